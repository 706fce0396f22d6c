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
    /// `stun:` / `stuns:` URLs handed out as they are.
    pub stun_urls: Vec<String>,
    /// `turn:` / `turns:` URLs (any `?transport=`), handed out with credentials.
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

    /// Checks URL schemes (RFC 7064 `stun:`/`stuns:`, RFC 7065 `turn:`/`turns:`),
    /// that TURN URLs come with a secret, and the lifetime.
    ///
    /// Errors: [`SignalError::InvalidConfig`] naming the offending value.
    pub fn validate(&self) -> Result<(), SignalError> {
        let invalid = |reason: String| Err(SignalError::InvalidConfig { reason });
        for url in &self.stun_urls {
            if !(url.starts_with("stun:") || url.starts_with("stuns:")) || url.len() < 7 {
                return invalid(format!("stun url {url:?} must start with stun: or stuns:"));
            }
        }
        for url in &self.turn_urls {
            if !(url.starts_with("turn:") || url.starts_with("turns:")) || url.len() < 7 {
                return invalid(format!("turn url {url:?} must start with turn: or turns:"));
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
}
