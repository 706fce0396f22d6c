//! This device's identity: an Ed25519 key pair made on first run and kept in the
//! profile folder.
//!
//! The secret key is stored as exactly 32 raw bytes in `<profile_dir>/identity.key`
//! (mode 0600 on Unix). The public half, base64url-encoded, is the [`PeerId`] other
//! peers and the signaling server know us by.

use std::fmt;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey, SECRET_KEY_LENGTH};
use parley_proto::PeerId;

use crate::{Error, Result};

/// File name of the secret key inside the profile folder.
pub const KEY_FILE_NAME: &str = "identity.key";

/// Our Ed25519 key pair and the [`PeerId`] derived from it.
///
/// `Debug` never prints the secret key.
pub struct Identity {
    signing_key: SigningKey,
    id: PeerId,
}

impl Identity {
    /// Loads the key from `<profile_dir>/identity.key`, or creates the folder and a
    /// new random key (file mode 0600 on Unix) if the file does not exist.
    ///
    /// Errors: [`Error::Io`] if the folder or file cannot be created or read, or if
    /// the file exists but is not exactly 32 bytes (kind `InvalidData`; the file is
    /// left untouched so the user can inspect or restore it).
    pub fn load_or_create(profile_dir: &Path) -> Result<Identity> {
        std::fs::create_dir_all(profile_dir).map_err(|e| Error::io(profile_dir, e))?;
        let path = profile_dir.join(KEY_FILE_NAME);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let secret: [u8; SECRET_KEY_LENGTH] = bytes.as_slice().try_into().map_err(|_| {
                    Error::io(
                        &path,
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!(
                                "identity key file is corrupt: expected {SECRET_KEY_LENGTH} bytes, found {}",
                                bytes.len()
                            ),
                        ),
                    )
                })?;
                restrict_permissions(&path)?;
                Ok(Identity::from_secret_bytes(&secret))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let identity = Identity::generate();
                write_private_file(&path, &identity.signing_key.to_bytes())?;
                tracing::info!(id = %identity.id, path = %path.display(), "created a new identity");
                Ok(identity)
            }
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// A fresh random identity (not saved anywhere).
    pub fn generate() -> Identity {
        Identity::from_signing_key(SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// The identity whose 32-byte Ed25519 secret key is `secret`.
    pub fn from_secret_bytes(secret: &[u8; SECRET_KEY_LENGTH]) -> Identity {
        Identity::from_signing_key(SigningKey::from_bytes(secret))
    }

    fn from_signing_key(signing_key: SigningKey) -> Identity {
        let id = PeerId::from_public_key(&signing_key.verifying_key());
        Identity { signing_key, id }
    }

    /// Our peer id (base64url of the public key, 43 chars).
    pub fn id(&self) -> PeerId {
        self.id.clone()
    }

    /// The secret signing key, for the signaling challenge-response.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing_key
    }

    /// The public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.signing_key.verifying_key()
    }

    /// The public key as base64url without padding (43 chars; same text as
    /// [`Identity::id`]).
    pub fn public_key_b64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.signing_key.verifying_key().as_bytes())
    }

    /// Signs `message` with our secret key (64-byte Ed25519 signature).
    pub fn sign(&self, message: &[u8]) -> Signature {
        self.signing_key.sign(message)
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Writes a new secret file (a key) without ever exposing it with loose
/// permissions: a temporary file created with mode 0600, synced, then renamed
/// into place.
///
/// Errors: [`Error::Io`] naming the file that could not be written or renamed.
pub(crate) fn write_private_file(path: &Path, secret: &[u8]) -> Result<()> {
    let tmp: PathBuf = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let write = || -> io::Result<()> {
        let mut file = options.open(&tmp)?;
        file.write_all(secret)?;
        file.sync_all()?;
        Ok(())
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(&tmp, e)
    })?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    restrict_permissions(path)
}

/// Makes sure the key file is readable by its owner only (Unix; no-op elsewhere).
pub(crate) fn restrict_permissions(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "secret file was readable by others; setting mode 0600");
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| Error::io(path, e))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_then_loads_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let profile = dir.path().join("nested").join("profile");
        let a = Identity::load_or_create(&profile).unwrap();
        let b = Identity::load_or_create(&profile).unwrap();
        assert_eq!(a.id(), b.id());
        assert_eq!(a.public_key_b64(), a.id().as_str());
        assert_eq!(
            std::fs::read(profile.join(KEY_FILE_NAME)).unwrap().len(),
            SECRET_KEY_LENGTH
        );
        assert!(PeerId::parse(a.id().as_str()).is_ok());
        let sig = a.sign(b"hello");
        a.verifying_key().verify_strict(b"hello", &sig).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn key_file_is_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        Identity::load_or_create(dir.path()).unwrap();
        let path = dir.path().join(KEY_FILE_NAME);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // A loosened file is tightened again on load.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        Identity::load_or_create(dir.path()).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn corrupt_key_is_a_clear_error_and_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE_NAME);
        std::fs::write(&path, b"not a key").unwrap();
        let err = Identity::load_or_create(dir.path()).unwrap_err();
        match &err {
            Error::Io { path: p, source } => {
                assert_eq!(p, &path);
                assert_eq!(source.kind(), io::ErrorKind::InvalidData);
            }
            other => panic!("unexpected error {other:?}"),
        }
        assert!(err.to_string().contains("corrupt"));
        assert_eq!(std::fs::read(&path).unwrap(), b"not a key");
    }

    #[test]
    fn debug_hides_the_secret() {
        let id = Identity::from_secret_bytes(&[7; 32]);
        let text = format!("{id:?}");
        assert!(text.contains(id.id().as_str()));
        assert!(!text.contains("signing_key"));
    }
}
