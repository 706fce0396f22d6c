//! Free space on the receiver's disk: checked before an offer is accepted, and
//! named in the error when a write runs out of it mid-transfer.

use std::io;
use std::path::Path;

use super::TransferError;

/// `bytes` for people, in decimal units as file managers show them:
/// `512 bytes`, `64.0 MB`, `1.2 GB`.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if bytes < 1000 {
        return if bytes == 1 {
            "1 byte".into()
        } else {
            format!("{bytes} bytes")
        };
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// [`format_bytes`] of a field, for error messages.
pub(super) fn format_bytes_ref(bytes: &u64) -> String {
    format_bytes(*bytes)
}

/// Bytes available to this user on the file system that holds `dir`, measured
/// at its nearest existing ancestor (the receive folder may not exist yet).
///
/// Errors: the `statvfs` (`GetDiskFreeSpaceExW` on Windows) error of that ancestor.
pub(super) fn available_space(dir: &Path) -> io::Result<u64> {
    let mut at = dir;
    while !at.exists() {
        match at.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => at = parent,
            _ => break,
        }
    }
    fs4::available_space(at)
}

/// Errors with [`TransferError::NoSpace`] when `dir`'s file system has less than
/// `needed` bytes free. A file system whose free space cannot be read is not
/// refused here: its writes will say.
pub(super) fn check_space(dir: &Path, needed: u64) -> Result<(), TransferError> {
    match available_space(dir) {
        Ok(available) if available < needed => Err(TransferError::NoSpace { needed, available }),
        Ok(_) => Ok(()),
        Err(e) => {
            tracing::debug!(dir = %dir.display(), error = %e, "free space unknown");
            Ok(())
        }
    }
}

/// The error for a failed write of the file at `path`: [`TransferError::NoSpace`]
/// when the disk is full (`remaining` bytes still to come), else
/// [`TransferError::Io`] naming the file.
pub(super) fn write_error(path: &Path, dir: &Path, remaining: u64, e: io::Error) -> TransferError {
    if is_disk_full(&e) {
        TransferError::NoSpace {
            needed: remaining,
            available: available_space(dir).unwrap_or(0),
        }
    } else {
        TransferError::io(path, e)
    }
}

/// Whether `e` says the disk (or the user's quota) is full.
pub(super) fn is_disk_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_as_a_file_manager_shows_them() {
        assert_eq!(format_bytes(0), "0 bytes");
        assert_eq!(format_bytes(1), "1 byte");
        assert_eq!(format_bytes(999), "999 bytes");
        assert_eq!(format_bytes(1000), "1.0 kB");
        assert_eq!(format_bytes(64 << 20), "67.1 MB");
        assert_eq!(format_bytes(1_234_567_890), "1.2 GB");
        assert_eq!(format_bytes(999_960_000), "1.0 GB");
        assert_eq!(format_bytes(u64::MAX), "18446.7 PB");
    }

    #[test]
    fn space_is_measured_where_the_folder_will_be() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b/c");
        assert!(available_space(&deep).unwrap() > 0);
        check_space(&deep, 1).unwrap();
        match check_space(&deep, u64::MAX) {
            Err(TransferError::NoSpace { needed, .. }) => assert_eq!(needed, u64::MAX),
            other => panic!("unexpected {other:?}"),
        }
        let full = io::Error::from(io::ErrorKind::StorageFull);
        assert!(is_disk_full(&full));
        let err = write_error(&deep.join("x"), &deep, 5_000_000, full);
        assert!(
            err.to_string()
                .starts_with("not enough space: 5.0 MB needed"),
            "{err}"
        );
    }
}
