//! The embedded signaling server: `parley_signal` run inside this process, as
//! the app does with no server configured and `parley-cli --server auto` does.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use parley_proto::PeerId;

use crate::{Error, Result};

/// Starts the embedded signaling server on `listen` (default settings: no ICE
/// servers, so calls through it use host candidates, which is what a LAN needs).
/// When `listen` names a port that cannot be bound (busy), a free port of the
/// same address is taken instead. Returns the running server (it stops when
/// dropped or shut down) and the URL a client on this machine signs in with,
/// [`local_url`] of the address bound; its port is what `nearby` announces.
///
/// `owner` is the peer running it: the only owner a bound sign-in (docs/protocol.md
/// §3.1), as peers that found it nearby make, may name.
///
/// Errors: [`Error::Signaling`] when no port of that address can be bound.
pub async fn start_embedded_server(
    listen: SocketAddr,
    owner: PeerId,
) -> Result<(parley_signal::ServerHandle, String)> {
    let mut cfg = parley_signal::ServerConfig {
        listen,
        owner: Some(owner),
        ..Default::default()
    };
    let handle = match parley_signal::start(cfg.clone()).await {
        Ok(h) => h,
        Err(e) if listen.port() != 0 => {
            tracing::info!("embedded server on {listen}: {e}; using a free port");
            cfg.listen.set_port(0);
            parley_signal::start(cfg)
                .await
                .map_err(|e| Error::Signaling(format!("embedded server: {e}")))?
        }
        Err(e) => return Err(Error::Signaling(format!("embedded server: {e}"))),
    };
    let url = local_url(handle.local_addr());
    Ok((handle, url))
}

/// The URL a client on this machine reaches a server bound to `bound` with:
/// `ws://127.0.0.1:<port>/ws` for every IPv4 interface (0.0.0.0),
/// `ws://[::1]:<port>/ws` for every IPv6 one, else the bound address itself.
pub fn local_url(bound: SocketAddr) -> String {
    let ip = match bound.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("ws://{}/ws", SocketAddr::new(ip, bound.port()))
}

#[cfg(test)]
mod tests {
    use super::local_url;

    #[test]
    fn a_server_on_every_interface_is_reached_on_loopback() {
        let url = |a: &str| local_url(a.parse().unwrap());
        assert_eq!(url("0.0.0.0:40123"), "ws://127.0.0.1:40123/ws");
        assert_eq!(url("[::]:40123"), "ws://[::1]:40123/ws");
        assert_eq!(url("127.0.0.1:8443"), "ws://127.0.0.1:8443/ws");
        assert_eq!(url("192.168.1.5:8443"), "ws://192.168.1.5:8443/ws");
    }
}
