//! Server configuration: defaults, the TOML file format, validation.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::{IceConfig, SignalError, TurnSecret};

/// Settings of one signaling server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Address to bind; port 0 picks a free port (see [`crate::ServerHandle::local_addr`]).
    pub listen: SocketAddr,
    /// Largest inbound WebSocket message, bytes; bigger ones get `too_large` and
    /// the connection is closed. Default [`parley_proto::MAX_SIGNAL_FRAME_BYTES`].
    pub max_frame_bytes: usize,
    /// Sustained inbound frames per second allowed per connection.
    pub rate_limit_per_sec: u32,
    /// Inbound frames a connection may send in a burst above the sustained rate.
    pub rate_burst: u32,
    /// Time from connect by which `auth` must have succeeded.
    pub auth_timeout: Duration,
    /// STUN/TURN servers handed to every authenticated client (`ice_servers`).
    pub ice: IceConfig,
    /// How long a disconnected peer's accepted calls wait for it to reconnect and
    /// `resume` them before they end (docs/protocol.md §6.2).
    pub call_grace: Duration,
    /// How long an invite (call or data session) may ring unanswered before the
    /// server ends it: the callee gets `cancel`, the caller `decline` with reason
    /// `"no answer"` (docs/protocol.md §6).
    pub ring_timeout: Duration,
    /// Most connections one IP address may hold open; 0 = no limit.
    pub max_connections_per_ip: u32,
    /// Failed authentications one IP address may make per 60 s before its new
    /// connections are refused for the rest of the window; 0 = no limit.
    pub max_failed_auths_per_ip: u32,
    /// PEM certificate chain and PEM private key: serve `wss://` and `https://`
    /// instead of plain `ws://` (both or neither).
    pub tls_cert: Option<PathBuf>,
    /// See [`ServerConfig::tls_cert`].
    pub tls_key: Option<PathBuf>,
    /// The peer that runs this server (an app's embedded server): the only
    /// owner a sign-in bound to one (protocol 5, docs/protocol.md §3.1) may name.
    /// `None` (a standalone server): bound sign-ins are refused.
    pub owner: Option<parley_proto::PeerId>,
}

impl Default for ServerConfig {
    /// `127.0.0.1:8443`, 64 KiB frames, 50 frames/s with bursts of 200, 10 s to
    /// authenticate, no ICE servers, calls kept 30 s for a peer that dropped,
    /// invites ring at most 60 s, 256 connections and 20 failed sign-ins a minute
    /// per IP address.
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            max_frame_bytes: parley_proto::MAX_SIGNAL_FRAME_BYTES,
            rate_limit_per_sec: 50,
            rate_burst: 200,
            auth_timeout: Duration::from_secs(10),
            ice: IceConfig::default(),
            call_grace: Duration::from_secs(DEFAULT_CALL_GRACE_SECS),
            ring_timeout: Duration::from_secs(DEFAULT_RING_TIMEOUT_SECS),
            max_connections_per_ip: DEFAULT_MAX_CONNECTIONS_PER_IP,
            max_failed_auths_per_ip: DEFAULT_MAX_FAILED_AUTHS_PER_IP,
            tls_cert: None,
            tls_key: None,
            owner: None,
        }
    }
}

/// Default [`ServerConfig::call_grace`], seconds.
pub const DEFAULT_CALL_GRACE_SECS: u64 = 30;

/// Default [`ServerConfig::ring_timeout`], seconds.
pub const DEFAULT_RING_TIMEOUT_SECS: u64 = 60;

/// Default [`ServerConfig::max_connections_per_ip`].
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: u32 = 256;

/// Default [`ServerConfig::max_failed_auths_per_ip`] (per 60 s).
pub const DEFAULT_MAX_FAILED_AUTHS_PER_IP: u32 = 20;

/// Default number of members (invited ones included) from which a media call
/// runs through the SFU, when the server has one (`--sfu-from`,
/// [`crate::start_with_sfu`]).
pub const DEFAULT_SFU_FROM: usize = 5;

/// Smallest accepted `max_frame_bytes`: room for a hello and a small SDP.
pub const MIN_FRAME_BYTES: usize = 1024;

impl ServerConfig {
    /// Checks every value is usable.
    ///
    /// Errors: [`SignalError::InvalidConfig`] if `max_frame_bytes` is below
    /// [`MIN_FRAME_BYTES`], `rate_limit_per_sec` or `rate_burst` is 0, or
    /// `auth_timeout` or `ring_timeout` is zero, or the ICE servers are invalid
    /// ([`IceConfig::validate`]).
    pub fn validate(&self) -> Result<(), SignalError> {
        let invalid = |reason: &str| {
            Err(SignalError::InvalidConfig {
                reason: reason.to_owned(),
            })
        };
        if self.max_frame_bytes < MIN_FRAME_BYTES {
            return invalid("max_frame_bytes must be at least 1024");
        }
        if self.rate_limit_per_sec == 0 || self.rate_burst == 0 {
            return invalid("rate_limit_per_sec and rate_burst must be at least 1");
        }
        if self.auth_timeout.is_zero() {
            return invalid("auth_timeout must be positive");
        }
        if self.ring_timeout.is_zero() {
            return invalid("ring_timeout must be positive");
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return invalid("tls_cert and tls_key go together");
        }
        self.ice.validate()
    }
}

/// The TOML configuration file: every key optional, unknown keys refused.
///
/// ```toml
/// listen = "0.0.0.0:8443"
/// max_frame_bytes = 65536
/// rate_limit_per_sec = 50
/// rate_burst = 200
/// stun_urls = ["stun:turn.example.org:3478"]
/// turn_urls = ["turn:turn.example.org:3478", "turn:turn.example.org:3478?transport=tcp",
///              "turns:turn.example.org:5349"]
/// turn_secret = "the static-auth-secret coturn has"
/// turn_ttl_secs = 43200
/// call_grace_secs = 30
/// sfu = "janus"
/// sfu_from = 5
/// janus_ice_ip = "198.51.100.1"
/// janus_bin = "/usr/bin/janus"
/// ```
///
/// The SFU keys (`sfu`, `sfu_from`, `janus_ice_ip`, `janus_bin`) are read by the
/// `parley-signal` binary, which starts the SFU; [`FileConfig::apply`] leaves
/// them out (they are not part of [`ServerConfig`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Overrides [`ServerConfig::listen`].
    pub listen: Option<SocketAddr>,
    /// Overrides [`ServerConfig::max_frame_bytes`].
    pub max_frame_bytes: Option<usize>,
    /// Overrides [`ServerConfig::rate_limit_per_sec`].
    pub rate_limit_per_sec: Option<u32>,
    /// Overrides [`ServerConfig::rate_burst`].
    pub rate_burst: Option<u32>,
    /// Overrides [`IceConfig::stun_urls`].
    pub stun_urls: Option<Vec<String>>,
    /// Overrides [`IceConfig::turn_urls`].
    pub turn_urls: Option<Vec<String>>,
    /// Overrides [`IceConfig::turn_secret`].
    pub turn_secret: Option<TurnSecret>,
    /// Overrides [`IceConfig::turn_ttl`], seconds.
    pub turn_ttl_secs: Option<u64>,
    /// Overrides [`ServerConfig::call_grace`], seconds.
    pub call_grace_secs: Option<u64>,
    /// Overrides [`ServerConfig::ring_timeout`], seconds.
    pub ring_timeout_secs: Option<u64>,
    /// Overrides [`ServerConfig::max_connections_per_ip`].
    pub max_connections_per_ip: Option<u32>,
    /// Overrides [`ServerConfig::max_failed_auths_per_ip`].
    pub max_failed_auths_per_ip: Option<u32>,
    /// Overrides [`ServerConfig::tls_cert`].
    pub tls_cert: Option<PathBuf>,
    /// Overrides [`ServerConfig::tls_key`].
    pub tls_key: Option<PathBuf>,
    /// The SFU of group calls the binary starts: `"janus"` (a private Janus);
    /// absent = none (`--sfu`).
    pub sfu: Option<String>,
    /// Members (invited ones included, 2 to 16) from which a media call runs
    /// through the SFU; absent = [`DEFAULT_SFU_FROM`] (`--sfu-from`).
    pub sfu_from: Option<usize>,
    /// The only address the private Janus offers ICE candidates for; absent =
    /// the `listen` address's IP (`--janus-ice-ip`).
    pub janus_ice_ip: Option<IpAddr>,
    /// The Janus program; absent = `janus` from `PATH` (`--janus-bin`).
    pub janus_bin: Option<PathBuf>,
}

impl FileConfig {
    /// Parses the TOML text of a configuration file.
    ///
    /// Errors: [`SignalError::ConfigParse`] on bad TOML, wrong types or unknown keys.
    pub fn parse(text: &str) -> Result<FileConfig, SignalError> {
        toml::from_str(text).map_err(|e| SignalError::ConfigParse {
            reason: e.to_string(),
        })
    }

    /// `base` with every value this file sets replaced.
    pub fn apply(&self, base: ServerConfig) -> ServerConfig {
        ServerConfig {
            listen: self.listen.unwrap_or(base.listen),
            max_frame_bytes: self.max_frame_bytes.unwrap_or(base.max_frame_bytes),
            rate_limit_per_sec: self.rate_limit_per_sec.unwrap_or(base.rate_limit_per_sec),
            rate_burst: self.rate_burst.unwrap_or(base.rate_burst),
            auth_timeout: base.auth_timeout,
            ice: IceConfig {
                stun_urls: self.stun_urls.clone().unwrap_or(base.ice.stun_urls),
                turn_urls: self.turn_urls.clone().unwrap_or(base.ice.turn_urls),
                turn_secret: self.turn_secret.clone().or(base.ice.turn_secret),
                turn_ttl: self
                    .turn_ttl_secs
                    .map(Duration::from_secs)
                    .unwrap_or(base.ice.turn_ttl),
            },
            call_grace: self
                .call_grace_secs
                .map(Duration::from_secs)
                .unwrap_or(base.call_grace),
            ring_timeout: self
                .ring_timeout_secs
                .map(Duration::from_secs)
                .unwrap_or(base.ring_timeout),
            max_connections_per_ip: self
                .max_connections_per_ip
                .unwrap_or(base.max_connections_per_ip),
            max_failed_auths_per_ip: self
                .max_failed_auths_per_ip
                .unwrap_or(base.max_failed_auths_per_ip),
            tls_cert: self.tls_cert.clone().or(base.tls_cert),
            tls_key: self.tls_key.clone().or(base.tls_key),
            owner: base.owner,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_overrides_defaults() {
        let file = FileConfig::parse("listen = \"0.0.0.0:9000\"\nrate_burst = 5\n").unwrap();
        let cfg = file.apply(ServerConfig::default());
        assert_eq!(cfg.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(cfg.rate_burst, 5);
        assert_eq!(cfg.rate_limit_per_sec, 50);
        assert!(cfg.validate().is_ok());
        let file = FileConfig::parse(
            "turn_urls = [\"turn:t:3478\"]\nturn_secret = \"s\"\nturn_ttl_secs = 60\n",
        )
        .unwrap();
        let cfg = file.apply(ServerConfig::default());
        assert_eq!(cfg.ice.turn_urls, ["turn:t:3478"]);
        assert_eq!(cfg.ice.turn_ttl, Duration::from_secs(60));
        assert!(cfg.validate().is_ok());
        let no_secret = FileConfig::parse("turn_urls = [\"turn:t:3478\"]\n").unwrap();
        assert!(no_secret.apply(ServerConfig::default()).validate().is_err());
    }

    #[test]
    fn sfu_keys_are_read_and_not_applied() {
        let file = FileConfig::parse(
            "sfu = \"janus\"\nsfu_from = 2\njanus_ice_ip = \"198.51.100.1\"\n\
             janus_bin = \"/opt/janus/bin/janus\"\n",
        )
        .unwrap();
        assert_eq!(file.sfu.as_deref(), Some("janus"));
        assert_eq!(file.sfu_from, Some(2));
        assert_eq!(file.janus_ice_ip, Some(IpAddr::from([198, 51, 100, 1])));
        assert_eq!(file.janus_bin, Some(PathBuf::from("/opt/janus/bin/janus")));
        assert_eq!(file.apply(ServerConfig::default()), ServerConfig::default());
    }

    #[test]
    fn bad_files_and_values_are_errors() {
        assert!(FileConfig::parse("bogus = 1").is_err());
        assert!(FileConfig::parse("listen = 5").is_err());
        let cfg = ServerConfig {
            rate_burst: 0,
            ..ServerConfig::default()
        };
        assert!(cfg.validate().is_err());
        let cfg = ServerConfig {
            max_frame_bytes: 10,
            ..ServerConfig::default()
        };
        assert!(cfg.validate().is_err());
    }
}
