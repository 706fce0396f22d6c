//! This device's DTLS certificate: made once, kept in the profile, used by every
//! peer connection, so its fingerprint (RFC 8122 §5) stays the same from call to
//! call and can be bound to the identity key (docs/protocol.md §6.3).

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use webrtc::peer_connection::crypto::{self, SignatureScheme};
use webrtc::peer_connection::RTCCertificate;

use crate::identity::{restrict_permissions, write_private_file};
use crate::{Error, Result};

/// The certificate's file in the profile folder (PEM: expiry, certificate and
/// private key; mode 0600 on Unix).
pub const CERTIFICATE_FILE_NAME: &str = "dtls-certificate.pem";

/// A certificate closer than this to its expiry is replaced, seconds (30 days).
const RENEW_BEFORE_EXPIRY_S: u64 = 30 * 24 * 3600;

/// An ECDSA P-256 self-signed certificate and its key, as webrtc-rs stores them
/// (`RTCCertificate::serialize_pem`). Cheap to clone.
#[derive(Clone)]
pub struct DtlsCertificate {
    pem: Arc<str>,
    fingerprint: Arc<str>,
    expires: SystemTime,
}

impl std::fmt::Debug for DtlsCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DtlsCertificate")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl DtlsCertificate {
    /// A new random certificate (ECDSA P-256, as browsers make them).
    ///
    /// Errors: [`Error::Rtc`] if the crypto provider cannot make one.
    pub fn generate() -> Result<DtlsCertificate> {
        let provider = provider()?;
        let params = rcgen::CertificateParams::new(vec!["parley".to_owned()])
            .map_err(|e| Error::Rtc(format!("certificate parameters: {e}")))?;
        let cert =
            RTCCertificate::generate(provider.crypto(), SignatureScheme::EcdsaP256Sha256, params)?;
        DtlsCertificate::from_rtc(&cert, provider.crypto())
    }

    /// Loads `<profile_dir>/dtls-certificate.pem`, or makes and stores a new one
    /// when it is missing, unreadable as a certificate, or expires within 30 days.
    ///
    /// Errors: [`Error::Io`] when the file cannot be read or written;
    /// [`Error::Rtc`] when no certificate can be made.
    pub fn load_or_create(profile_dir: &Path) -> Result<DtlsCertificate> {
        let path = profile_dir.join(CERTIFICATE_FILE_NAME);
        match std::fs::read_to_string(&path) {
            Ok(pem) => match DtlsCertificate::from_pem(&pem) {
                Ok(cert) if cert.fresh() => {
                    restrict_permissions(&path)?;
                    return Ok(cert);
                }
                Ok(_) => {
                    tracing::info!(path = %path.display(), "DTLS certificate expires soon; making a new one")
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), "DTLS certificate unreadable ({e}); making a new one")
                }
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&path, e)),
        }
        let cert = DtlsCertificate::generate()?;
        write_private_file(&path, cert.pem.as_bytes())?;
        tracing::info!(fingerprint = %cert.fingerprint, "created a DTLS certificate");
        Ok(cert)
    }

    /// Parses what [`load_or_create`](Self::load_or_create) stores.
    ///
    /// Errors: [`Error::Rtc`] when `pem` is not such a certificate.
    pub fn from_pem(pem: &str) -> Result<DtlsCertificate> {
        let provider = provider()?;
        let cert = RTCCertificate::from_pem(pem, provider.crypto())?;
        DtlsCertificate::from_rtc(&cert, provider.crypto())
    }

    /// The SHA-256 fingerprint as it appears in SDP: `sha-256 AB:CD:…`.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Whether it is valid for longer than the renewal margin (30 days).
    fn fresh(&self) -> bool {
        let margin = Duration::from_secs(RENEW_BEFORE_EXPIRY_S);
        SystemTime::now()
            .checked_add(margin)
            .is_some_and(|t| self.expires > t)
    }

    /// webrtc-rs's certificate, for the peer connection's configuration.
    pub(crate) fn to_rtc(&self) -> Result<RTCCertificate> {
        Ok(RTCCertificate::from_pem(&self.pem, provider()?.crypto())?)
    }

    fn from_rtc(cert: &RTCCertificate, crypto: &dyn crypto::RTCCrypto) -> Result<DtlsCertificate> {
        let fp = cert
            .get_fingerprints(crypto)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::Rtc("certificate without a fingerprint".into()))?;
        Ok(DtlsCertificate {
            pem: cert.serialize_pem()?.into(),
            fingerprint: format!("{} {}", fp.algorithm, fp.value.to_ascii_uppercase()).into(),
            expires: cert.expires,
        })
    }
}

fn provider() -> Result<Arc<dyn crypto::RTCCryptoProvider>> {
    crypto::default_provider().map_err(|e| Error::Rtc(format!("crypto provider: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = DtlsCertificate::load_or_create(dir.path()).unwrap();
        let again = DtlsCertificate::load_or_create(dir.path()).unwrap();
        assert_eq!(first.fingerprint(), again.fingerprint());
        assert!(first.fingerprint().starts_with("sha-256 "), "{first:?}");
        first.to_rtc().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(CERTIFICATE_FILE_NAME))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "mode {mode:o}");
        }
    }

    #[test]
    fn a_corrupt_file_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CERTIFICATE_FILE_NAME);
        std::fs::write(&path, "not a certificate").unwrap();
        let cert = DtlsCertificate::load_or_create(dir.path()).unwrap();
        let stored = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            DtlsCertificate::from_pem(&stored).unwrap().fingerprint(),
            cert.fingerprint()
        );
    }
}
