//! The receiver's disk side: the hidden temp file (`.<name>.parley-part`) with its
//! resume sidecar, what a folder already holds of an offered file, and the
//! final move into place that never overwrites an existing file (the writer
//! in between is [`super::writer`]).

use std::fs::{File, OpenOptions};
use std::io::{self, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use parley_proto::data::FILE_PROTOCOL_VERSION;
use parley_proto::file_hash::{FileHasher, BLOCK_BYTES};

use super::name::{confined, unique_name_candidate};
use super::receive::{PART_SUFFIX, SIDECAR_SUFFIX};
use super::TransferError;

/// Most `name (n).ext` candidates tried before giving up.
const MAX_NAME_ATTEMPTS: u32 = 10_000;

/// How long a kept partial file waits for its file to be offered again: when
/// a transfer starts in its folder, partial files (and sidecars) nobody wrote
/// to for this long are deleted. 30 days.
pub const STALE_PART_AGE: Duration = Duration::from_secs(30 * 24 * 3600);

/// The offer a temp file belongs to: its size, under file protocol 2 (a part
/// kept by version 1, whose sidecar held a SHA-256 instead, is not resumed).
#[derive(Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct Sidecar {
    pub(super) size: u64,
    #[serde(default)]
    pub(super) version: u32,
}

impl Sidecar {
    pub(super) fn new(size: u64) -> Sidecar {
        Sidecar {
            size,
            version: FILE_PROTOCOL_VERSION,
        }
    }
}

/// How many bytes a kept partial file `dir/.<name>.parley-part` of a
/// `size`-byte offer holds (its sidecar names the same size under file
/// protocol 2 and it is no longer than that), else 0. Not verified here.
pub(super) fn resumable_len(dir: &Path, name: &str, size: u64) -> u64 {
    let (Ok(part), Ok(sidecar)) = (
        confined(dir, &format!(".{name}{PART_SUFFIX}")),
        confined(dir, &format!(".{name}{SIDECAR_SUFFIX}")),
    ) else {
        return 0;
    };
    let previous: Option<Sidecar> = std::fs::read(&sidecar)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let existing = std::fs::metadata(&part).map_or(0, |m| m.len());
    if previous == Some(Sidecar::new(size)) && existing <= size {
        existing
    } else {
        0
    }
}

/// What a receiver holds that may be the start of an offered file.
#[derive(Debug)]
pub(super) enum Held {
    /// A regular file of the offered name and size (not a symlink): if its
    /// hash matches, the receiver has the file already.
    File(PathBuf),
    /// A kept partial file of the same name and size.
    Part,
}

/// What the receiver holds of an offer: a prefix and its hash, for `have`.
#[derive(Debug)]
pub(super) struct Probe {
    pub(super) held: Held,
    /// The prefix hashed so far (its position is the `have` offset).
    pub(super) hasher: FileHasher,
}

/// Whether `dir` may hold something of a `size`-byte file offered as `name`
/// that [`probe`] (with `file_first`) would hash: a regular file of that name
/// and size, or a kept part of at least one whole block. Metadata and the
/// sidecar only.
pub(super) fn may_hold(dir: &Path, name: &str, size: u64) -> bool {
    let Ok(path) = confined(dir, name) else {
        return false;
    };
    std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file() && m.len() == size)
        || resumable_len(dir, name, size) >= BLOCK_BYTES
}

/// What `dir` holds of a `size`-byte file offered as `name`: a regular file of
/// that name and size (hashed whole; only if `file_first`), else a kept
/// partial file's whole blocks (hashed, at least one block), else nothing.
/// Read errors, and `stop` set meanwhile, count as nothing.
pub(super) fn probe(
    dir: &Path,
    name: &str,
    size: u64,
    file_first: bool,
    stop: &AtomicBool,
) -> Option<Probe> {
    let path = confined(dir, name).ok()?;
    let same = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file() && m.len() == size);
    if same && file_first {
        if let Some(hasher) = hash_prefix(&path, size, size, stop) {
            return Some(Probe {
                held: Held::File(path),
                hasher,
            });
        }
    }
    let held = resumable_len(dir, name, size) / BLOCK_BYTES * BLOCK_BYTES;
    if held == 0 {
        return None;
    }
    let part = confined(dir, &format!(".{name}{PART_SUFFIX}")).ok()?;
    Some(Probe {
        held: Held::Part,
        hasher: hash_prefix(&part, size, held, stop)?,
    })
}

/// The first `len` bytes of `path` fed to a hasher for a `size`-byte file;
/// `None` if they cannot all be read or `stop` is set meanwhile.
fn hash_prefix(path: &Path, size: u64, len: u64, stop: &AtomicBool) -> Option<FileHasher> {
    let file = File::open(path).ok()?;
    parley_proto::file_hash::hash_prefix(file, size, len, || stop.load(Ordering::Relaxed)).ok()
}

/// Creates `root/<folders…>` one folder at a time and returns it. An existing
/// part must be a real folder: a symlink (even to a folder) or a file in the
/// way is an error, so nothing is ever written outside `root`.
///
/// Errors: [`TransferError::Io`] naming the part in the way or that could not
/// be made.
pub(super) fn make_folders(root: &Path, folders: &[String]) -> Result<PathBuf, TransferError> {
    std::fs::create_dir_all(root).map_err(|e| TransferError::io(root, e))?;
    let mut dir = root.to_path_buf();
    for folder in folders {
        let next = confined(&dir, folder)?;
        if let Err(e) = std::fs::create_dir(&next) {
            if e.kind() != io::ErrorKind::AlreadyExists {
                return Err(TransferError::io(&next, e));
            }
        }
        let is_folder = std::fs::symlink_metadata(&next).is_ok_and(|m| m.is_dir());
        if !is_folder {
            let e = io::Error::new(io::ErrorKind::AlreadyExists, "in the way: not a folder");
            return Err(TransferError::io(&next, e));
        }
        dir = next;
    }
    Ok(dir)
}

/// Deletes the partial files of earlier transfers in `dir` (hidden
/// `.<name>.parley-part` and their `.json` sidecars, regular files only: a
/// symlink is never followed) last modified more than `max_age` before `now`.
/// Returns how many files were deleted; errors are logged and skipped.
pub(super) fn sweep_stale_parts(dir: &Path, max_age: Duration, now: SystemTime) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut deleted = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with('.')
            || !(name.ends_with(PART_SUFFIX) || name.ends_with(SIDECAR_SUFFIX))
        {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let stale = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age > max_age);
        if meta.is_file() && stale {
            match std::fs::remove_file(&path) {
                Ok(()) => deleted += 1,
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot delete a stale partial file")
                }
            }
        }
    }
    deleted
}

/// How often one folder is swept for stale partial files, at most: a sweep
/// reads the whole folder, and a folder of 10,000 files received one after
/// another must not be read 10,000 times. One hour.
const SWEEP_INTERVAL: Duration = Duration::from_secs(3600);

/// Whether `dir` is due a sweep (not swept by this process in the last
/// [`SWEEP_INTERVAL`]); marks it swept now if so.
fn sweep_due(dir: &Path) -> bool {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    use std::time::Instant;
    static SWEPT: OnceLock<Mutex<HashMap<PathBuf, Instant>>> = OnceLock::new();
    let mut swept = SWEPT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let now = Instant::now();
    match swept.get(dir) {
        Some(at) if now.duration_since(*at) < SWEEP_INTERVAL => false,
        _ => {
            swept.insert(dir.to_path_buf(), now);
            true
        }
    }
}

/// The temp file's path, its sidecar's, the file open at the resume offset,
/// and that offset.
pub(super) type Prepared = (PathBuf, PathBuf, File, u64);

/// Opens `dir/.<name>.parley-part` for a `size`-byte offer. With `resume`, the
/// kept part's first `resume` bytes (verified with the sender: `have` and
/// `resume`) stay and anything after them is cut; without, or if the part is
/// shorter than that now, the file is emptied and the sidecar rewritten.
/// Returns the paths, the file (positioned for appending) and the offset.
pub(super) fn prepare_part(
    dir: &Path,
    name: &str,
    size: u64,
    resume: Option<u64>,
) -> Result<Prepared, TransferError> {
    std::fs::create_dir_all(dir).map_err(|e| TransferError::io(dir, e))?;
    if sweep_due(dir) {
        let swept = sweep_stale_parts(dir, STALE_PART_AGE, SystemTime::now());
        if swept > 0 {
            tracing::info!(dir = %dir.display(), swept, "deleted partial files kept for over 30 days");
        }
    }
    let part = confined(dir, &format!(".{name}{PART_SUFFIX}"))?;
    let sidecar = confined(dir, &format!(".{name}{SIDECAR_SUFFIX}"))?;
    let io_err = |e| TransferError::io(&part, e);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&part)
        .map_err(io_err)?;
    let existing = file.metadata().map_err(io_err)?.len();
    let offset = match resume {
        Some(offset) if offset <= existing && offset <= size => offset,
        _ => {
            let json = serde_json::to_vec(&Sidecar::new(size))
                .map_err(|e| TransferError::Protocol(e.to_string()))?;
            std::fs::write(&sidecar, json).map_err(|e| TransferError::io(&sidecar, e))?;
            0
        }
    };
    if existing != offset {
        file.set_len(offset).map_err(io_err)?;
    }
    file.seek(SeekFrom::Start(offset)).map_err(io_err)?;
    Ok((part, sidecar, file, offset))
}

/// Renames the verified temp file to `dir/name`, or `name (1)`, `name (2)`, … if
/// taken: each candidate is reserved with `create_new` first, so an existing file
/// is never overwritten. Returns the final path.
pub(super) fn move_into_place(
    dir: &Path,
    name: &str,
    part: &Path,
) -> Result<PathBuf, TransferError> {
    for n in 0..MAX_NAME_ATTEMPTS {
        let candidate = confined(dir, &unique_name_candidate(name, n))?;
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(_) => {
                return match std::fs::rename(part, &candidate) {
                    Ok(()) => Ok(candidate),
                    Err(e) => {
                        let _ = std::fs::remove_file(&candidate);
                        Err(TransferError::io(candidate, e))
                    }
                };
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(TransferError::io(candidate, e)),
        }
    }
    Err(TransferError::io(
        dir.join(name),
        io::Error::new(
            io::ErrorKind::AlreadyExists,
            "too many files with this name",
        ),
    ))
}

pub(super) async fn remove_temp(part: &Path, sidecar: &Path) {
    for path in [part, sidecar] {
        if let Err(e) = tokio::fs::remove_file(path).await {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove temp file");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn folders_are_made_inside_and_links_are_not_followed() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let r = root.path();
        let made = make_folders(r, &["a".into(), "b".into()]).unwrap();
        assert_eq!(made, r.join("a/b"));
        assert!(made.is_dir());
        // Again: the folders exist, fine.
        assert_eq!(make_folders(r, &["a".into(), "b".into()]).unwrap(), made);
        std::os::unix::fs::symlink(outside.path(), r.join("link")).unwrap();
        std::fs::write(r.join("file"), b"x").unwrap();
        for blocked in ["link", "file"] {
            let err = make_folders(r, &[blocked.into(), "c".into()]).unwrap_err();
            assert!(err.to_string().contains("not a folder"), "{err}");
        }
        assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
    }

    #[test]
    fn partial_files_untouched_for_30_days_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let old = SystemTime::now() - Duration::from_secs(31 * 24 * 3600);
        for (name, modified) in [
            (".old.bin.parley-part", Some(old)),
            (".old.bin.parley-part.json", Some(old)),
            (".fresh.bin.parley-part", None),
            (".fresh.bin.parley-part.json", None),
            // Not ours: kept however old.
            ("old.bin", Some(old)),
            (".notes.parley-partial", Some(old)),
        ] {
            let f = File::create(d.join(name)).unwrap();
            if let Some(t) = modified {
                f.set_modified(t).unwrap();
            }
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink("/etc/hostname", d.join(".link.parley-part")).unwrap();
        assert_eq!(sweep_stale_parts(d, STALE_PART_AGE, SystemTime::now()), 2);
        let mut left: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let mut want = vec![
            ".fresh.bin.parley-part",
            ".fresh.bin.parley-part.json",
            ".notes.parley-partial",
            "old.bin",
        ];
        if cfg!(unix) {
            want.insert(2, ".link.parley-part");
        }
        assert_eq!(left, want);
        // Nothing is stale yet a day later for the fresh ones.
        let tomorrow = SystemTime::now() + Duration::from_secs(24 * 3600);
        assert_eq!(sweep_stale_parts(d, STALE_PART_AGE, tomorrow), 0);
        assert_eq!(
            sweep_stale_parts(&d.join("missing"), STALE_PART_AGE, tomorrow),
            0
        );
    }
}
