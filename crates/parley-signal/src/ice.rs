//! The STUN and TURN servers handed to clients, with short-lived TURN credentials
//! in the TURN REST API scheme (draft-uberti-behave-turn-rest-00 §2.2) that coturn
//! implements as `use-auth-secret` / `static-auth-secret`.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use parley_proto::{IceServerInfo, PeerId};

use crate::SignalError;

/// Default lifetime of issued TURN credentials: 12 h.
pub const DEFAULT_TURN_TTL: Duration = Duration::from_secs(12 * 3600);

/// Shortest accepted TURN credential lifetime (the refresh runs at half of it).
pub const MIN_TURN_TTL: Duration = Duration::from_secs(2);

/// The shared secret coturn also holds (`static-auth-secret`). Its `Debug` output
/// is redacted so configurations can be logged.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct TurnSecret(pub String);

impl fmt::Debug for TurnSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TurnSecret(***)")
    }
}

/// Which ICE servers clients get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceConfig {
    /// `stun:` URLs handed out as they are ([`IceConfig::validate`] says which
    /// forms clients can use).
    pub stun_urls: Vec<String>,
    /// `turn:` URLs (UDP or `?transport=tcp`) and `turns:` URLs (TLS), handed out
    /// with credentials.
    pub turn_urls: Vec<String>,
    /// Secret the TURN credentials are derived from; required with `turn_urls`.
    pub turn_secret: Option<TurnSecret>,
    /// Lifetime of each issued credential; clients get fresh ones at half of it.
    pub turn_ttl: Duration,
}

impl Default for IceConfig {
    /// No servers; a 12 h credential lifetime.
    fn default() -> Self {
        IceConfig {
            stun_urls: Vec::new(),
            turn_urls: Vec::new(),
            turn_secret: None,
            turn_ttl: DEFAULT_TURN_TTL,
        }
    }
}

impl IceConfig {
    /// Whether there is nothing to hand out (then no `ice_servers` frame is sent).
    pub fn is_empty(&self) -> bool {
        self.stun_urls.is_empty() && self.turn_urls.is_empty()
    }

    /// How often an authenticated connection gets fresh credentials: half the
    /// lifetime; `None` without TURN URLs.
    pub fn refresh_interval(&self) -> Option<Duration> {
        (!self.turn_urls.is_empty()).then(|| self.turn_ttl / 2)
    }

    /// Checks the URLs, that TURN URLs come with a secret, and the lifetime.
    ///
    /// A URL must be one Parley clients can use ([`check_ice_url`]): they drop any
    /// other, so handing it out would fail silently on every client. STUN URLs
    /// go in `stun_urls`, TURN URLs in `turn_urls`.
    ///
    /// Errors: [`SignalError::InvalidConfig`] naming the offending value.
    pub fn validate(&self) -> Result<(), SignalError> {
        let invalid = |reason: String| Err(SignalError::InvalidConfig { reason });
        for url in &self.stun_urls {
            if !matches!(scheme_of(url).as_deref(), Some("stun" | "stuns")) {
                return invalid(format!("stun url {url:?} must start with stun:"));
            }
            if let Err(why) = check_ice_url(url) {
                return invalid(format!("stun url {url:?}: {why}"));
            }
        }
        for url in &self.turn_urls {
            if !matches!(scheme_of(url).as_deref(), Some("turn" | "turns")) {
                return invalid(format!("turn url {url:?} must start with turn: or turns:"));
            }
            if let Err(why) = check_ice_url(url) {
                return invalid(format!("turn url {url:?}: {why}"));
            }
        }
        if !self.turn_urls.is_empty() {
            match &self.turn_secret {
                Some(s) if !s.0.is_empty() => {}
                _ => return invalid("turn urls need a turn secret (--turn-secret)".into()),
            }
        }
        if self.turn_ttl < MIN_TURN_TTL {
            return invalid(format!(
                "turn ttl must be at least {} s",
                MIN_TURN_TTL.as_secs()
            ));
        }
        Ok(())
    }

    /// The servers for `peer` at `now_unix_s` (seconds since the Unix epoch), and
    /// the credentials' lifetime in seconds when TURN is configured.
    ///
    /// STUN URLs come first, as one entry; TURN URLs follow as one entry with the
    /// username `<now + ttl>:<peer id>` and its [`turn_rest_credential`].
    pub fn servers_for(&self, peer: &PeerId, now_unix_s: u64) -> (Vec<IceServerInfo>, Option<u64>) {
        let mut servers = Vec::new();
        if !self.stun_urls.is_empty() {
            servers.push(IceServerInfo {
                urls: self.stun_urls.clone(),
                ..Default::default()
            });
        }
        let mut ttl = None;
        if let (false, Some(secret)) = (self.turn_urls.is_empty(), &self.turn_secret) {
            let ttl_s = self.turn_ttl.as_secs();
            let username = format!("{}:{peer}", now_unix_s + ttl_s);
            servers.push(IceServerInfo {
                urls: self.turn_urls.clone(),
                credential: turn_rest_credential(&secret.0, &username),
                username,
            });
            ttl = Some(ttl_s);
        }
        (servers, ttl)
    }
}

/// A URL's scheme in lower case (`stun`, `turn`, ...); `None` without a `:`.
fn scheme_of(url: &str) -> Option<String> {
    url.split_once(':').map(|(s, _)| s.to_ascii_lowercase())
}

/// Checks one ICE server URL against what Parley clients can use: RFC 7064
/// `stun:host[:port]`, RFC 7065 `turn:host[:port][?transport=udp|tcp]` and
/// `turns:host[:port][?transport=tcp]` (scheme and query case-insensitive; a
/// host name, an IPv4 address or a bracketed IPv6 address; port 1-65535).
///
/// This is the same rule as the engine's `rtc::check_ice_url`, written out again
/// because this crate does not depend on parley-engine; keep the two in step. The
/// engine refuses `stuns:` (STUN over TLS) and `turns:…?transport=udp` (TURN
/// over DTLS), which webrtc-rs cannot use, rather than drop them silently.
///
/// Errors: what is wrong with the URL and what to write instead.
pub(crate) fn check_ice_url(url: &str) -> Result<(), String> {
    let Some((scheme, rest)) = url.split_once(':') else {
        return Err("must start with stun:, turn: or turns:".into());
    };
    let scheme = scheme.to_ascii_lowercase();
    let (hostport, query) = match rest.split_once('?') {
        Some((hp, q)) => (hp, Some(q)),
        None => (rest, None),
    };
    match (scheme.as_str(), query) {
        ("stun", None) | ("turn", None) | ("turns", None) => {}
        ("turn", Some(q))
            if q.eq_ignore_ascii_case("transport=udp")
                || q.eq_ignore_ascii_case("transport=tcp") => {}
        ("turns", Some(q)) if q.eq_ignore_ascii_case("transport=tcp") => {}
        ("turns", Some(q)) if q.eq_ignore_ascii_case("transport=udp") => {
            return Err("Parley clients cannot use TURN over DTLS; \
                use turns:HOST:5349 (TLS) or turn:HOST:3478"
                .into())
        }
        ("stuns", _) => {
            return Err("Parley clients cannot use STUN over TLS; use stun:HOST:3478".into())
        }
        ("stun", Some(_)) => return Err("a stun: URL takes no ?query".into()),
        ("turn" | "turns", Some(q)) => {
            return Err(format!(
                "unknown parameter {q:?} (only ?transport=udp or ?transport=tcp)"
            ))
        }
        _ => return Err("must start with stun:, turn: or turns:".into()),
    }
    // host, host:port, [v6], [v6]:port
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, tail)) => (h, tail.strip_prefix(':')),
            None => return Err("an IPv6 address needs its closing ]".into()),
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() || host.contains(['/', ' ', '@']) {
        return Err("needs a host name or address after the scheme".into());
    }
    if let Some(p) = port {
        if !matches!(p.parse::<u16>(), Ok(1..)) {
            return Err(format!("port {p:?} is not 1-65535"));
        }
    }
    Ok(())
}

/// The TURN REST API password for `username`: base64 (standard, padded) of
/// HMAC-SHA1(`secret`, `username`), as coturn checks it with `use-auth-secret`.
pub fn turn_rest_credential(secret: &str, username: &str) -> String {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> PeerId {
        PeerId::parse("iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w").unwrap()
    }

    #[test]
    fn credential_matches_an_independent_hmac() {
        // Python: base64.b64encode(hmac.new(b"north", b"1767225600:iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w", hashlib.sha1).digest())
        let user = "1767225600:iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w";
        assert_eq!(turn_rest_credential("north", user), EXPECTED);
    }

    const EXPECTED: &str = "xp8aKYgouu/mYcmJNENNgis47+s=";

    #[test]
    fn servers_carry_expiring_credentials() {
        let cfg = IceConfig {
            stun_urls: vec!["stun:s.example:3478".into()],
            turn_urls: vec!["turn:t.example:3478?transport=tcp".into()],
            turn_secret: Some(TurnSecret("north".into())),
            turn_ttl: Duration::from_secs(600),
        };
        cfg.validate().unwrap();
        let (servers, ttl) = cfg.servers_for(&peer(), 1_767_225_000);
        assert_eq!(ttl, Some(600));
        assert_eq!(servers.len(), 2);
        assert!(servers[0].username.is_empty());
        assert_eq!(
            servers[1].username,
            "1767225600:iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w"
        );
        assert_eq!(servers[1].credential, EXPECTED);
        assert_eq!(cfg.refresh_interval(), Some(Duration::from_secs(300)));
        assert!(!format!("{cfg:?}").contains("north"));
    }

    #[test]
    fn bad_configurations_are_refused() {
        let turn_without_secret = IceConfig {
            turn_urls: vec!["turn:t:3478".into()],
            ..Default::default()
        };
        assert!(turn_without_secret.validate().is_err());
        let bad_scheme = IceConfig {
            stun_urls: vec!["http://s:3478".into()],
            ..Default::default()
        };
        assert!(bad_scheme.validate().is_err());
        let short = IceConfig {
            turn_ttl: Duration::from_secs(1),
            ..Default::default()
        };
        assert!(short.validate().is_err());
        assert!(IceConfig::default().validate().is_ok());
        assert!(IceConfig::default().is_empty());
        assert_eq!(IceConfig::default().refresh_interval(), None);
    }

    fn with_urls(stun: &[&str], turn: &[&str]) -> IceConfig {
        IceConfig {
            stun_urls: stun.iter().map(|u| u.to_string()).collect(),
            turn_urls: turn.iter().map(|u| u.to_string()).collect(),
            turn_secret: Some(TurnSecret("north".into())),
            ..Default::default()
        }
    }

    #[test]
    fn urls_clients_can_use_are_accepted() {
        for stun in [
            "stun:stun.example.org",
            "stun:198.51.100.1:3478",
            "stun:[2001:db8::1]",
            "STUN:s.example.org:3478",
        ] {
            let cfg = with_urls(&[stun], &[]);
            assert!(
                cfg.validate().is_ok(),
                "{stun} refused: {:?}",
                cfg.validate()
            );
        }
        for turn in [
            "turn:turn.example.org:3478",
            "turn:turn.example.org:3478?transport=udp",
            "turn:turn.example.org:3478?transport=tcp",
            "turn:turn.example.org?transport=TCP",
            "turns:turn.example.org:5349",
            "turns:turn.example.org?transport=tcp",
            "TURN:[2001:db8::1]:3478",
        ] {
            let cfg = with_urls(&[], &[turn]);
            assert!(
                cfg.validate().is_ok(),
                "{turn} refused: {:?}",
                cfg.validate()
            );
        }
    }

    #[test]
    fn urls_clients_would_drop_are_refused() {
        for (stun, says) in [
            ("stuns:s.example.org", "STUN over TLS"),
            ("stuns:s.example.org:5349", "STUN over TLS"),
            ("stun:s.example.org?transport=udp", "no ?query"),
            ("stun:", "host"),
            ("stun:s.example.org:0", "port"),
            ("turn:t.example.org:3478", "must start with stun:"),
            ("http://s.example.org", "must start with stun:"),
        ] {
            let err = with_urls(&[stun], &[])
                .validate()
                .expect_err(stun)
                .to_string();
            assert!(err.contains(says), "{stun}: {err}");
        }
        for (turn, says) in [
            ("turns:t.example.org:5349?transport=udp", "DTLS"),
            ("turn:t.example.org?foo=1", "unknown parameter"),
            ("turn:t.example.org?transport=sctp", "unknown parameter"),
            ("turn:t.example.org:99999", "port"),
            ("turn:t.example.org:x", "port"),
            ("turn:[2001:db8::1:3478", "closing ]"),
            ("turn:user@t.example.org", "host"),
            ("turn:", "host"),
            ("stun:s.example.org", "must start with turn:"),
            ("stuns:s.example.org", "must start with turn:"),
        ] {
            let err = with_urls(&[], &[turn])
                .validate()
                .expect_err(turn)
                .to_string();
            assert!(err.contains(says), "{turn}: {err}");
        }
        // The rule itself, as the engine words it for the same URLs.
        assert!(check_ice_url("turns:t.example.org:5349?transport=udp").is_err());
        assert!(check_ice_url("turns:t.example.org:5349?transport=tcp").is_ok());
    }
}
