//! The DNS-SD records of one Parley: what we announce ([`service_info`]) and the
//! checks an announcement from the network passes before it is believed
//! ([`parse`]). Pure: no sockets, no clocks.
//!
//! TXT (RFC 6763 §6): one `key=value` string per property, each at most 255
//! bytes; keys compare without case and only the first of a repeated key counts
//! (§6.4; mdns-sd decodes them so). Ours: `id` (43-char peer id), `name` (display
//! name, ≤ [`MAX_NAME_CHARS`] chars and ≤ [`MAX_NAME_BYTES`] bytes), `port`
//! (decimal, the SRV port), `v` (decimal, `parley_proto::PROTOCOL_VERSION`).

#[cfg(test)]
mod tests;

use std::net::IpAddr;

use mdns_sd::{ServiceInfo, TxtProperties};
use parley_proto::PeerId;

use super::{NearbyPeer, SERVICE_TYPE};
use crate::{Error, Result};

/// Longest display name announced or believed, chars (after removing control
/// characters and trimming).
pub const MAX_NAME_CHARS: usize = 64;
/// Longest display name announced, bytes of UTF-8 (`name=` plus this stays
/// within a TXT string's 255 bytes).
pub const MAX_NAME_BYTES: usize = 240;
/// Most addresses kept per Parley found (the preferred ones, [`parse`]).
pub(crate) const MAX_ADDRS: usize = 8;

/// Why an announcement was not believed (logged at debug level, then ignored).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Reject {
    /// It is our own (multicast loops back to us).
    #[error("our own announcement")]
    Ours,
    /// A required TXT key is absent.
    #[error("no TXT {0:?}")]
    Missing(&'static str),
    /// A field is there but not as Parley writes it.
    #[error("bad {field}: {why}")]
    Malformed {
        /// `id`, `name`, `port`, `v` or `srv port`.
        field: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// No address we could connect to.
    #[error("no usable address")]
    NoAddress,
}

fn malformed(field: &'static str, why: impl Into<String>) -> Reject {
    Reject::Malformed {
        field,
        why: why.into(),
    }
}

/// The instance label we announce: our peer id (43 bytes of base64url, within the
/// 63 bytes of a DNS label, RFC 6763 §4.1.1), unique per profile.
pub(crate) fn instance_name(me: &PeerId) -> String {
    me.as_str().to_owned()
}

/// Our mDNS host name: `parley-<hex of the key's first 8 bytes>.local.`. Hex, as
/// mDNS names compare without case (RFC 6762 §16) and base64url ids do not.
pub(crate) fn host_name(me: &PeerId) -> String {
    let key = parley_proto::identity::decode_b64url(me.as_str()).unwrap_or_default();
    format!("parley-{}.local.", hex::encode(&key[..key.len().min(8)]))
}

/// Whether `c` is hidden or reorders text: control characters (Unicode
/// category Cc: C0, DEL, C1), format characters (Cf: zero-width characters,
/// bidi controls, the soft hyphen, tags...), line and paragraph separators
/// (Zl, Zp), and the Hangul fillers, which render as blank.
fn is_hidden(c: char) -> bool {
    // Cf, Zl and Zp as of Unicode 16 (`char::is_control` covers only Cc).
    let format = matches!(
        c,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    );
    let filler = matches!(c, '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}');
    c.is_control() || format || filler
}

/// `raw` without hidden characters ([`is_hidden`]), trimmed.
pub(crate) fn clean_name(raw: &str) -> String {
    let kept: String = raw.chars().filter(|c| !is_hidden(*c)).collect();
    kept.trim().to_owned()
}

/// The name we announce: [`clean_name`] cut on a char boundary to at most
/// [`MAX_NAME_CHARS`] chars and [`MAX_NAME_BYTES`] bytes.
pub(crate) fn announced_name(display: &str) -> String {
    let mut out = String::new();
    for (n, c) in clean_name(display).chars().enumerate() {
        if n == MAX_NAME_CHARS || out.len() + c.len_utf8() > MAX_NAME_BYTES {
            break;
        }
        out.push(c);
    }
    out.trim_end().to_owned()
}

/// Our service record for the mDNS daemon: instance [`instance_name`], host
/// [`host_name`], addresses filled in by mdns-sd (`enable_addr_auto`), SRV port
/// `port`, TXT `id`, `name`, `port`, `v`.
///
/// Errors: [`Error::Nearby`] if mdns-sd refuses the record (it should not).
pub(crate) fn service_info(me: &PeerId, name: &str, port: u16) -> Result<ServiceInfo> {
    let props = [
        ("id", me.to_string()),
        ("name", announced_name(name)),
        ("port", port.to_string()),
        ("v", parley_proto::PROTOCOL_VERSION.to_string()),
    ];
    let info = ServiceInfo::new(
        SERVICE_TYPE,
        &instance_name(me),
        &host_name(me),
        (),
        port,
        &props[..],
    )
    .map_err(|e| Error::Nearby(format!("our service record: {e}")))?;
    Ok(info.enable_addr_auto())
}

/// The UTF-8 value of TXT `key`: `None` when the key is absent; an error when it
/// has no value (`key` alone) or the bytes are not UTF-8.
fn text<'a>(txt: &'a TxtProperties, key: &'static str) -> Result<Option<&'a str>, Reject> {
    let Some(prop) = txt.get(key) else {
        return Ok(None);
    };
    let bytes = prop.val().ok_or_else(|| malformed(key, "no value"))?;
    std::str::from_utf8(bytes)
        .map(Some)
        .map_err(|_| malformed(key, "not UTF-8"))
}

/// Preference of an address to connect to, lower first: IPv4 before IPv6, and
/// link-local after the others within a family.
fn address_rank(ip: &IpAddr) -> u8 {
    match ip {
        IpAddr::V4(v4) if v4.is_link_local() => 1,
        IpAddr::V4(_) => 0,
        IpAddr::V6(v6) if v6.is_unicast_link_local() => 3,
        IpAddr::V6(_) => 2,
    }
}

/// Whether anyone could connect to `ip` as announced by another host: not
/// loopback (a stranger must not point us at our own services), unspecified,
/// in 0.0.0.0/8 ("this network"), multicast or broadcast. Expects the
/// canonical form (`IpAddr::to_canonical`), so an IPv4-mapped IPv6 address
/// such as `::ffff:127.0.0.1` is judged as the IPv4 address it is.
fn usable(ip: &IpAddr) -> bool {
    let this_network = matches!(ip, IpAddr::V4(v4) if v4.octets()[0] == 0);
    let broadcast = matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
    let special = ip.is_loopback() || ip.is_unspecified() || ip.is_multicast();
    !(special || this_network || broadcast)
}

/// Checks a resolved announcement and turns it into a [`NearbyPeer`].
///
/// `srv_port` is the SRV port, `addrs` the A/AAAA addresses, `txt` the decoded TXT
/// record. Requires: TXT `id`, a valid peer id other than `me`; a non-zero SRV
/// port (a TXT `port` that differs is ignored: SRV is authoritative, RFC 6763
/// §6); if present, `port` a non-zero decimal u16, `v` a decimal u32, `name`
/// UTF-8 of at most [`MAX_NAME_CHARS`] chars once hidden characters are removed
/// (no `name` gives an empty one); at least one [`usable`] address once
/// canonical (of which the [`MAX_ADDRS`] preferred are kept). Never panics.
///
/// Errors: the first [`Reject`] met.
pub(crate) fn parse(
    me: &PeerId,
    srv_port: u16,
    addrs: impl IntoIterator<Item = IpAddr>,
    txt: &TxtProperties,
) -> Result<NearbyPeer, Reject> {
    let id = text(txt, "id")?.ok_or(Reject::Missing("id"))?;
    let id = PeerId::parse(id).map_err(|e| malformed("id", e.to_string()))?;
    if id == *me {
        return Err(Reject::Ours);
    }
    if srv_port == 0 {
        return Err(malformed("srv port", "0"));
    }
    if let Some(port) = text(txt, "port")? {
        match port.parse::<u16>() {
            Ok(0) | Err(_) => return Err(malformed("port", "not a port number")),
            Ok(p) if p != srv_port => {
                tracing::debug!(%id, txt = p, srv = srv_port, "nearby: TXT port differs from SRV");
            }
            Ok(_) => {}
        }
    }
    let version = match text(txt, "v")? {
        Some(v) => v
            .parse::<u32>()
            .map_err(|_| malformed("v", "not a version number"))?,
        None => 0,
    };
    let name = clean_name(text(txt, "name")?.unwrap_or_default());
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(malformed(
            "name",
            format!("longer than {MAX_NAME_CHARS} chars"),
        ));
    }
    let mut addrs: Vec<IpAddr> = addrs
        .into_iter()
        .map(|ip| ip.to_canonical())
        .filter(usable)
        .collect();
    addrs.sort_by_key(|ip| (address_rank(ip), *ip));
    addrs.dedup();
    addrs.truncate(MAX_ADDRS);
    if addrs.is_empty() {
        return Err(Reject::NoAddress);
    }
    Ok(NearbyPeer {
        id,
        name,
        addrs,
        port: srv_port,
        version,
    })
}
