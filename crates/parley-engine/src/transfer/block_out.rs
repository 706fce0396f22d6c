//! The receiver's file output: whole blocks written around the page cache.
//!
//! A received file is written in 1 MiB blocks ([`BLOCK_BYTES`], the protocol's
//! hash blocks: a resume starts at one). On Linux each whole block goes out
//! with `O_DIRECT` from an aligned buffer, so the kernel does not copy it into
//! the page cache (on the reference VM, `dd` spends 0.8 s of CPU per GiB on
//! that copy, and during a transfer it was the largest single cost: 28 % of
//! the samples). The last, shorter block, and every block where the file
//! system refuses `O_DIRECT` (tmpfs, some network file systems) or on other
//! systems, go through the page cache as before.
//!
//! The direct handle is opened at the first whole block (a file shorter than
//! a block never opens it), and only kept when it is the same file (device
//! and inode) as the handle the part was opened with. `fsync` works on the
//! file, not the handle, so the writer's final sync (through its own handle)
//! covers the direct writes too. Every write names its offset, so where the
//! position that cloned handles share stands (a writer that took over from
//! another writes through a clone) never matters.

use std::fs::File;
use std::io;
use std::path::Path;

use parley_proto::file_hash::BLOCK_BYTES;

/// Alignment of direct I/O buffers and offsets, bytes (a page; enough for
/// every logical block size Linux file systems use).
const ALIGN: usize = 4096;

/// The direct-I/O handle's state.
enum Direct {
    /// Not opened yet: opened at the first whole block.
    Untried,
    /// Open and working.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    Open(File),
    /// Not available here, or refused: the page cache only.
    Off,
}

/// Appends to a file block by block (see the module docs).
pub(super) struct BlockOut {
    file: File,
    /// The same file opened for direct I/O (Linux only).
    direct: Direct,
    path: std::path::PathBuf,
    /// `BLOCK_BYTES + ALIGN` bytes; the block is staged at `start`, aligned.
    staging: Vec<u8>,
    start: usize,
    filled: usize,
    /// File offset of the staged block's first byte.
    pos: u64,
}

impl BlockOut {
    /// Appends to `file` (the file at `path`) from `pos`, a multiple of the
    /// block size (0, or a resume offset).
    pub(super) fn new(file: File, path: &Path, pos: u64) -> BlockOut {
        let block = BLOCK_BYTES as usize;
        let staging = vec![0u8; block + ALIGN];
        let start = staging.as_ptr().align_offset(ALIGN).min(ALIGN);
        let direct = if pos.is_multiple_of(ALIGN as u64) {
            Direct::Untried
        } else {
            Direct::Off
        };
        BlockOut {
            file,
            direct,
            path: path.to_path_buf(),
            staging,
            start,
            filled: 0,
            pos,
        }
    }

    /// Room left in the staged block, bytes.
    pub(super) fn room(&self) -> usize {
        BLOCK_BYTES as usize - self.filled
    }

    /// Appends `data` to the staged block (nothing is written yet: the caller
    /// checks the block's hash first, then [`write_staged`](Self::write_staged)).
    ///
    /// Errors: `InvalidData` if `data` is more than [`room`](Self::room)
    /// (nothing is staged then).
    pub(super) fn stage(&mut self, data: &[u8]) -> io::Result<()> {
        if data.len() > self.room() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} bytes do not fit the block's {} left",
                    data.len(),
                    self.room()
                ),
            ));
        }
        let at = self.start + self.filled;
        self.staging[at..at + data.len()].copy_from_slice(data);
        self.filled += data.len();
        Ok(())
    }

    /// The bytes staged since the last write: a whole block, or the file's
    /// last, shorter one.
    pub(super) fn staged(&self) -> &[u8] {
        &self.staging[self.start..self.start + self.filled]
    }

    /// Writes the staged bytes at the file offset where they belong: directly
    /// when they are a whole block and direct I/O works, else through the page
    /// cache.
    ///
    /// Errors: the write's (disk full, ...); what was written before stays.
    pub(super) fn write_staged(&mut self) -> io::Result<()> {
        let bytes = &self.staging[self.start..self.start + self.filled];
        let whole = self.filled == BLOCK_BYTES as usize;
        if whole && matches!(self.direct, Direct::Untried) {
            self.direct = match open_direct(&self.path, &self.file) {
                Some(f) => Direct::Open(f),
                None => Direct::Off,
            };
        }
        #[cfg(target_os = "linux")]
        if let (Direct::Open(direct), true) = (&self.direct, whole) {
            use std::os::unix::fs::FileExt as _;
            match direct.write_all_at(bytes, self.pos) {
                Ok(()) => {
                    self.pos += self.filled as u64;
                    self.filled = 0;
                    return Ok(());
                }
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EINVAL) | Some(libc::EOPNOTSUPP)
                    ) =>
                {
                    // Refused after all: the page cache from here on.
                    tracing::debug!(error = %e, "direct writes refused; writing through the page cache");
                    self.direct = Direct::Off;
                }
                Err(e) => return Err(e),
            }
        }
        write_all_at(&self.file, bytes, self.pos)?;
        self.pos += self.filled as u64;
        self.filled = 0;
        Ok(())
    }
}

/// Writes all of `bytes` at `pos` of `file`, whatever the position its handle
/// shares with clones (a writer that took over from another one writes
/// through a clone).
#[cfg(unix)]
fn write_all_at(file: &File, bytes: &[u8], pos: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt as _;
    file.write_all_at(bytes, pos)
}

#[cfg(windows)]
fn write_all_at(file: &File, mut bytes: &[u8], mut pos: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt as _;
    while !bytes.is_empty() {
        match file.seek_write(bytes, pos) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                bytes = &bytes[n..];
                pos += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `path` opened for direct writes, or `None` where that is not available or
/// `path` is no longer the file `file` has open (renamed or replaced since).
#[cfg(target_os = "linux")]
fn open_direct(path: &Path, file: &File) -> Option<File> {
    use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
    let direct = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT | libc::O_NOFOLLOW)
        .open(path)
        .ok()?;
    let (a, b) = (file.metadata().ok()?, direct.metadata().ok()?);
    (a.dev() == b.dev() && a.ino() == b.ino()).then_some(direct)
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_path: &Path, _file: &File) -> Option<File> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends `data` as a receiver does, writing each block once it is whole,
    /// and what is left at the end.
    fn append(out: &mut BlockOut, mut data: &[u8]) {
        while !data.is_empty() {
            let take = out.room().min(data.len());
            out.stage(&data[..take]).unwrap();
            data = &data[take..];
            if out.room() == 0 {
                out.write_staged().unwrap();
            }
        }
    }

    #[test]
    fn blocks_and_the_tail_arrive_in_place_from_a_resume_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part");
        let block = BLOCK_BYTES as usize;
        let data: Vec<u8> = (0..3 * block + 777).map(|i| (i % 251) as u8).collect();
        // One block kept from before; the rest appended in odd pieces.
        std::fs::write(&path, &data[..block]).unwrap();
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let mut out = BlockOut::new(file, &path, block as u64);
        for piece in data[block..].chunks(65_479) {
            append(&mut out, piece);
        }
        out.write_staged().unwrap();
        // Where this file system takes direct I/O, the whole blocks went that way.
        let check = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        if open_direct(&path, &check).is_some() {
            assert!(matches!(out.direct, Direct::Open(_)));
        }
        drop(out);
        assert_eq!(std::fs::read(&path).unwrap(), data);
    }

    #[test]
    fn a_path_that_names_another_file_now_is_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part");
        let block = BLOCK_BYTES as usize;
        std::fs::write(&path, b"").unwrap();
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        // The part is replaced under its name after it was opened.
        std::fs::rename(&path, dir.path().join("moved")).unwrap();
        std::fs::write(&path, b"someone else's").unwrap();
        let mut out = BlockOut::new(file, &path, 0);
        let data = vec![7u8; block + 10];
        append(&mut out, &data);
        out.write_staged().unwrap();
        assert!(!matches!(out.direct, Direct::Open(_)));
        drop(out);
        assert_eq!(std::fs::read(&path).unwrap(), b"someone else's");
        assert_eq!(std::fs::read(dir.path().join("moved")).unwrap(), data);
    }

    #[test]
    fn a_file_shorter_than_a_block_never_opens_the_direct_handle() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part");
        let file = std::fs::File::create(&path).unwrap();
        let mut out = BlockOut::new(file, &path, 0);
        append(&mut out, b"short");
        out.write_staged().unwrap();
        assert!(matches!(out.direct, Direct::Untried));
        drop(out);
        assert_eq!(std::fs::read(&path).unwrap(), b"short");
    }

    #[test]
    fn a_block_never_written_is_not_on_disk_and_nothing_overflows_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part");
        let file = std::fs::File::create(&path).unwrap();
        let mut out = BlockOut::new(file, &path, 0);
        let block = BLOCK_BYTES as usize;
        out.stage(&vec![1u8; block - 5]).unwrap();
        let err = out.stage(&[2u8; 6]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(out.staged().len(), block - 5);
        // Staged, never checked, so never written.
        drop(out);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    }
}
