//! Local network changes: a laptop that changed Wi-Fi, a cable pulled, a DHCP
//! lease renewed with a new address. One process-wide watcher reads this host's
//! interface addresses every [`POLL_MS`] (the same enumeration webrtc-rs gathers
//! host candidates from; polling works the same on Linux, macOS and Windows) and
//! counts the changes in which an address went away. An address that only appears
//! counts for nothing: what worked before still works.
//!
//! The signaling client reconnects at once on a change (its socket was bound to
//! the address that is gone) and then passes the change on to calls
//! ([`crate::signaling::SignalingClient::network_changes`]), which restart ICE
//! rather than wait for ICE to notice the dead path (RFC 8445 §9).

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::watch;

/// How often the interface addresses are read, ms.
pub const POLL_MS: u64 = 1_000;

static CHANGES: OnceLock<watch::Sender<u64>> = OnceLock::new();

/// The number of changes so far in which a local address went away; it starts
/// at 0 and `changed()` wakes on each new one. The first call starts the watcher
/// thread, which runs for the life of the process.
pub fn subscribe() -> watch::Receiver<u64> {
    CHANGES
        .get_or_init(|| {
            let (tx, _) = watch::channel(0);
            let thread_tx = tx.clone();
            let started = std::thread::Builder::new()
                .name("parley-netwatch".into())
                .spawn(move || watch_addresses(thread_tx));
            if let Err(e) = started {
                tracing::warn!("cannot watch the network for changes: {e}");
            }
            tx
        })
        .subscribe()
}

fn watch_addresses(tx: watch::Sender<u64>) {
    let mut known = addresses().unwrap_or_default();
    loop {
        std::thread::sleep(Duration::from_millis(POLL_MS));
        // A failed read is no news (not every address gone at once).
        let Some(now) = addresses() else { continue };
        let gone: Vec<&IpAddr> = known.difference(&now).collect();
        if !gone.is_empty() {
            tracing::info!("network changed: {gone:?} gone, now {now:?}");
            tx.send_modify(|n| *n += 1);
        }
        known = now;
    }
}

/// This host's addresses that can carry a call: not loopback, unspecified or
/// link-local (the ones webrtc-rs skips when it gathers host candidates); `None`
/// when the interfaces cannot be read.
fn addresses() -> Option<BTreeSet<IpAddr>> {
    match rtc::shared::ifaces::ifaces() {
        Ok(list) => Some(
            list.into_iter()
                .filter_map(|i| i.addr.map(|a| a.ip()))
                .filter(usable)
                .collect(),
        ),
        Err(e) => {
            tracing::debug!("cannot read the interface addresses: {e}");
            None
        }
    }
}

fn usable(ip: &IpAddr) -> bool {
    if ip.is_loopback() || ip.is_unspecified() {
        return false;
    }
    match ip {
        IpAddr::V4(v4) => !v4.is_link_local(),
        // fe80::/10
        IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 != 0xfe80,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_addresses_a_call_can_use_count() {
        for (ip, ok) in [
            ("127.0.0.1", false),
            ("0.0.0.0", false),
            ("169.254.3.4", false),
            ("fe80::1", false),
            ("::1", false),
            ("10.1.0.2", true),
            ("198.51.100.11", true),
            ("2001:db8::5", true),
        ] {
            assert_eq!(usable(&ip.parse().unwrap()), ok, "{ip}");
        }
    }
}
