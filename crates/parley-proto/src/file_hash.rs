//! BLAKE3 of a file, block by block (file protocol 2, docs/protocol.md §8.3).
//!
//! A file is cut into blocks of [`BLOCK_BYTES`] (the last one may be shorter).
//! BLAKE3 is a tree hash over 1 KiB chunks (the BLAKE3 paper, §2.1), and a
//! block of 2^10 chunks starting at a multiple of its size is a whole subtree
//! of that tree: it has a chaining value of its own, and the hash of the file
//! is the tree's root over the blocks' chaining values, the same 32 bytes as
//! `blake3::hash(file)`. So a sender hashes each block once as it reads it,
//! sends its chaining value with the block's last bytes, and the receiver
//! checks every block as it arrives (corruption is caught at once, not at the
//! end), and both get the whole file's hash from those values, without a
//! second pass. A resumed transfer hashes its kept prefix the same way.

use blake3::hazmat::{merge_subtrees_non_root, merge_subtrees_root, HasherExt as _, Mode};

use crate::ProtoError;

/// Block size, bytes: 1 MiB, 2^10 BLAKE3 chunks. A resume offset is a multiple
/// of it (or the file's size).
pub const BLOCK_BYTES: u64 = 1 << 20;

/// A BLAKE3 chaining value (or hash), 32 bytes.
pub type BlockHash = [u8; 32];

/// Hashes a file of a known size fed in order, block by block.
#[derive(Clone)]
pub struct FileHasher {
    size: u64,
    /// Bytes fed so far.
    pos: u64,
    /// The block being fed, its input offset set.
    block: blake3::Hasher,
    /// Chaining values of the blocks fed whole, in order.
    blocks: Vec<BlockHash>,
    /// The root hash of block 0 on its own: the hash of the first block's
    /// bytes as a whole input (a one-block prefix or file).
    first_root: Option<BlockHash>,
}

impl std::fmt::Debug for FileHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileHasher")
            .field("size", &self.size)
            .field("pos", &self.pos)
            .field("blocks", &self.blocks.len())
            .finish()
    }
}

impl FileHasher {
    /// A hasher for a file of `size` bytes, nothing fed yet.
    pub fn new(size: u64) -> FileHasher {
        FileHasher {
            size,
            pos: 0,
            block: blake3::Hasher::new(),
            blocks: Vec::new(),
            first_root: None,
        }
    }

    /// Bytes fed so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// The file's size, bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Where the block being fed ends, bytes from the file's start.
    pub fn block_end(&self) -> u64 {
        ((self.pos / BLOCK_BYTES + 1) * BLOCK_BYTES).min(self.size)
    }

    /// Feeds the file's next bytes, which may end one block at most (a chunk
    /// frame never spans a block boundary: see [`block_end`](Self::block_end)).
    /// Returns the chaining value of the block whose last byte is in `data`.
    ///
    /// Errors: [`ProtoError::Malformed`] if `data` would go beyond the size or
    /// end two blocks (nothing is fed then).
    pub fn update(&mut self, mut data: &[u8]) -> Result<Option<BlockHash>, ProtoError> {
        let len = data.len() as u64;
        if len > self.size - self.pos {
            return Err(ProtoError::malformed(format!(
                "{len} bytes at offset {} go beyond the file's {} bytes",
                self.pos, self.size
            )));
        }
        let first_end = self.block_end();
        let second_end = (first_end + BLOCK_BYTES).min(self.size);
        if first_end < self.size && self.pos + len >= second_end {
            return Err(ProtoError::malformed(format!(
                "{len} bytes at offset {} span a block boundary ({first_end})",
                self.pos
            )));
        }
        let mut ended = None;
        while !data.is_empty() {
            let block_end = self.block_end();
            let take = usize::try_from(block_end - self.pos)
                .unwrap_or(usize::MAX)
                .min(data.len());
            self.block.update(&data[..take]);
            self.pos += take as u64;
            data = &data[take..];
            if self.pos == block_end {
                ended = Some(self.end_block());
            }
        }
        Ok(ended)
    }

    fn end_block(&mut self) -> BlockHash {
        let cv = self.block.finalize_non_root();
        if self.blocks.is_empty() {
            self.first_root = Some(*self.block.finalize().as_bytes());
        }
        self.blocks.push(cv);
        self.next_block();
        cv
    }

    /// Starts the block at `pos` (a multiple of the block size), if any.
    fn next_block(&mut self) {
        if self.pos < self.size {
            let mut next = blake3::Hasher::new();
            next.set_input_offset(self.pos);
            self.block = next;
        }
    }

    /// Appends the next block, hashed elsewhere ([`HashedBlock::hash`]), as if
    /// its bytes had been fed: a block's hash depends only on its bytes and
    /// offset, so blocks can be hashed on any thread and assembled here in
    /// order. Returns the block's chaining value.
    ///
    /// Errors: [`ProtoError::Malformed`] if it is not the next block (its
    /// offset is not the position, the position is mid-block, or it is of
    /// another file size); nothing is appended then.
    pub fn push_block(&mut self, block: &HashedBlock) -> Result<BlockHash, ProtoError> {
        if block.offset != self.pos
            || block.size != self.size
            || !self.pos.is_multiple_of(BLOCK_BYTES)
        {
            return Err(ProtoError::malformed(format!(
                "a block at offset {} of a {}-byte file is not the next one (at {} of {})",
                block.offset, block.size, self.pos, self.size
            )));
        }
        if self.blocks.is_empty() {
            self.first_root = block.first_root;
        }
        self.blocks.push(block.cv);
        self.pos = block.end();
        self.next_block();
        Ok(block.cv)
    }

    /// BLAKE3 of the bytes fed so far, when they end where a block ends (or
    /// nothing was fed); `None` in the middle of a block. Once the whole file
    /// is fed, this is the file's hash, equal to `blake3::hash(file)`.
    pub fn digest(&self) -> Option<BlockHash> {
        let whole = self.pos.is_multiple_of(BLOCK_BYTES) || self.pos == self.size;
        match self.blocks.len() {
            _ if !whole => None,
            0 => Some(*blake3::hash(&[]).as_bytes()),
            1 => self.first_root,
            n => {
                let split = largest_power_of_two_below(n);
                let left = subtree(&self.blocks[..split]);
                let right = subtree(&self.blocks[split..]);
                Some(*merge_subtrees_root(&left, &right, Mode::Hash).as_bytes())
            }
        }
    }
}

/// One whole block of a file, hashed on its own (on any thread, in any order;
/// [`FileHasher::push_block`] assembles them): its place, its chaining value,
/// and for the first block also its root hash (the file's hash when the file
/// is that one block).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashedBlock {
    /// The file's size, bytes.
    size: u64,
    /// Where the block starts, bytes (a multiple of [`BLOCK_BYTES`]).
    offset: u64,
    cv: BlockHash,
    first_root: Option<BlockHash>,
}

impl HashedBlock {
    /// Hashes `bytes`, the whole block at `offset` of a `size`-byte file (
    /// [`BLOCK_BYTES`] long, or what is left for the last block).
    ///
    /// Errors: [`ProtoError::Malformed`] if `offset` is not a block's start
    /// inside the file, or `bytes` is not that block's length.
    pub fn hash(size: u64, offset: u64, bytes: &[u8]) -> Result<HashedBlock, ProtoError> {
        let len = BLOCK_BYTES.min(size.saturating_sub(offset));
        if !offset.is_multiple_of(BLOCK_BYTES) || offset >= size || bytes.len() as u64 != len {
            return Err(ProtoError::malformed(format!(
                "{} bytes at offset {offset} are not a whole block of a {size}-byte file",
                bytes.len()
            )));
        }
        let mut hasher = blake3::Hasher::new();
        hasher.set_input_offset(offset);
        hasher.update(bytes);
        Ok(HashedBlock {
            size,
            offset,
            cv: hasher.finalize_non_root(),
            first_root: (offset == 0).then(|| *hasher.finalize().as_bytes()),
        })
    }

    /// The block's chaining value (what a chunk frame carries for it).
    pub fn cv(&self) -> BlockHash {
        self.cv
    }

    /// Where the block starts, bytes from the file's start.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Where the block ends, bytes from the file's start.
    pub fn end(&self) -> u64 {
        (self.offset + BLOCK_BYTES).min(self.size)
    }
}

/// Hashes the first `len` bytes of `reader`, the start of a `size`-byte file
/// (a resume's prefix, or a whole file), reading at most up to each block's
/// end (1 MiB a read). `stop` is asked before each read; when it says so, the
/// hashing ends with an `Interrupted` error.
///
/// Errors: a read error; `UnexpectedEof` if `reader` ends before `len` bytes;
/// `Interrupted` when stopped; `InvalidInput` if `len` exceeds `size`.
pub fn hash_prefix(
    reader: impl std::io::Read,
    size: u64,
    len: u64,
    stop: impl Fn() -> bool,
) -> std::io::Result<FileHasher> {
    use std::io::{Error, ErrorKind, Read as _};
    if len > size {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "a prefix longer than the file",
        ));
    }
    let mut reader = reader.take(len);
    let mut hasher = FileHasher::new(size);
    let mut buf = vec![0u8; BLOCK_BYTES as usize];
    loop {
        if stop() {
            return Err(ErrorKind::Interrupted.into());
        }
        let room = usize::try_from(hasher.block_end() - hasher.position()).unwrap_or(buf.len());
        let want = room.min(buf.len());
        let n = match reader.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher
            .update(&buf[..n])
            .map_err(|e| Error::new(ErrorKind::InvalidData, e))?;
    }
    if hasher.position() != len {
        return Err(Error::new(ErrorKind::UnexpectedEof, "the file shrank"));
    }
    Ok(hasher)
}

/// The chaining value of the subtree over `blocks` (at least one).
fn subtree(blocks: &[BlockHash]) -> BlockHash {
    if blocks.len() == 1 {
        return blocks[0];
    }
    let split = largest_power_of_two_below(blocks.len());
    merge_subtrees_non_root(
        &subtree(&blocks[..split]),
        &subtree(&blocks[split..]),
        Mode::Hash,
    )
}

/// The largest power of two strictly below `n` (n ≥ 2): the number of blocks
/// in a BLAKE3 tree's left subtree (all blocks but the last are whole).
fn largest_power_of_two_below(n: usize) -> usize {
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// Lowercase hex of a hash (64 chars).
pub fn to_hex(hash: &BlockHash) -> String {
    hex::encode(hash)
}

/// Parses 64 hex chars (either case) into a hash.
///
/// Errors: [`ProtoError::Malformed`].
pub fn from_hex(text: &str) -> Result<BlockHash, ProtoError> {
    let mut hash = [0u8; 32];
    hex::decode_to_slice(text, &mut hash)
        .map_err(|_| ProtoError::malformed("a BLAKE3 hash is 64 hex characters"))?;
    Ok(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 + i / 997) as u8).collect()
    }

    const B: usize = BLOCK_BYTES as usize;

    /// Feeds `file` in pieces of at most `piece` bytes, cut where blocks end
    /// (as a sender cuts its chunks); returns the block hashes.
    fn feed(h: &mut FileHasher, file: &[u8], piece: usize) -> Vec<BlockHash> {
        let mut ended = Vec::new();
        while (h.position() as usize) < file.len() {
            let at = h.position() as usize;
            let end = (at + piece).min(h.block_end() as usize);
            ended.extend(h.update(&file[at..end]).unwrap());
        }
        ended
    }

    #[test]
    fn the_file_hash_is_blake3_of_the_file_whatever_the_pieces() {
        for len in [
            0,
            1,
            1024,
            1025,
            B - 1,
            B,
            B + 1,
            2 * B,
            3 * B + 7,
            4 * B,
            5 * B - 1,
        ] {
            let file = data(len);
            for piece in [65_479, B, 4096, 777_777] {
                let mut h = FileHasher::new(len as u64);
                let ended = feed(&mut h, &file, piece);
                assert_eq!(h.position(), len as u64);
                assert_eq!(ended.len(), len.div_ceil(B), "len {len}, piece {piece}");
                assert_eq!(
                    h.digest().unwrap(),
                    *blake3::hash(&file).as_bytes(),
                    "len {len}, piece {piece}"
                );
            }
        }
    }

    #[test]
    fn blocks_hashed_apart_in_any_order_assemble_into_the_file_hash() {
        for len in [1, B - 1, B, B + 1, 3 * B + 7, 4 * B] {
            let file = data(len);
            let size = len as u64;
            // Hashed last block first, as threads could finish them.
            let mut hashed: Vec<HashedBlock> = (0..len.div_ceil(B))
                .rev()
                .map(|i| {
                    let end = ((i + 1) * B).min(len);
                    HashedBlock::hash(size, (i * B) as u64, &file[i * B..end]).unwrap()
                })
                .collect();
            hashed.reverse();
            let mut fed = FileHasher::new(size);
            let cvs = feed(&mut fed, &file, 65_479);
            let mut pushed = FileHasher::new(size);
            for (block, cv) in hashed.iter().zip(&cvs) {
                assert_eq!(pushed.push_block(block).unwrap(), *cv, "len {len}");
            }
            assert_eq!(pushed.position(), size);
            assert_eq!(pushed.digest(), fed.digest(), "len {len}");
            // Pushed on top of fed bytes, too (a resumed prefix).
            if hashed.len() > 1 {
                let mut mixed = FileHasher::new(size);
                mixed.update(&file[..B]).unwrap();
                for block in &hashed[1..] {
                    mixed.push_block(block).unwrap();
                }
                assert_eq!(mixed.digest(), fed.digest(), "len {len}");
            }
        }
    }

    #[test]
    fn a_block_out_of_place_is_refused_and_changes_nothing() {
        let file = data(3 * B);
        let size = file.len() as u64;
        let second = HashedBlock::hash(size, B as u64, &file[B..2 * B]).unwrap();
        let mut h = FileHasher::new(size);
        assert!(h.push_block(&second).is_err(), "not the next block");
        h.update(&file[..B / 2]).unwrap();
        assert!(h.push_block(&second).is_err(), "mid-block");
        assert_eq!(h.position(), (B / 2) as u64);
        let other = HashedBlock::hash(size + 1, 0, &file[..B]).unwrap();
        assert!(
            FileHasher::new(size).push_block(&other).is_err(),
            "another size"
        );
        // Not a whole block, or not at a block's start.
        assert!(HashedBlock::hash(size, 0, &file[..B - 1]).is_err());
        assert!(HashedBlock::hash(size, 1, &file[1..=B]).is_err());
        assert!(HashedBlock::hash(size, size, &[]).is_err());
    }

    #[test]
    fn a_prefix_of_whole_blocks_has_its_own_hash_and_the_hash_goes_on() {
        let file = data(3 * B + 5);
        let mut h = FileHasher::new(file.len() as u64);
        assert_eq!(h.digest().unwrap(), *blake3::hash(&[]).as_bytes());
        h.update(&file[..B / 2]).unwrap();
        assert_eq!(h.digest(), None, "mid-block");
        h.update(&file[B / 2..B]).unwrap();
        assert_eq!(h.digest().unwrap(), *blake3::hash(&file[..B]).as_bytes());
        h.update(&file[B..2 * B]).unwrap();
        assert_eq!(
            h.digest().unwrap(),
            *blake3::hash(&file[..2 * B]).as_bytes()
        );
        // A copy resumes where the original stood.
        let mut resumed = h.clone();
        assert_eq!(feed(&mut resumed, &file, B).len(), 2);
        assert_eq!(resumed.digest().unwrap(), *blake3::hash(&file).as_bytes());
    }

    #[test]
    fn a_changed_byte_changes_its_block_hash_only() {
        let file = data(2 * B + 9);
        let mut bad = file.clone();
        bad[B + 17] ^= 1;
        let blocks = |bytes: &[u8]| feed(&mut FileHasher::new(bytes.len() as u64), bytes, 65_479);
        let (good, worse) = (blocks(&file), blocks(&bad));
        assert_eq!(good[0], worse[0]);
        assert_ne!(good[1], worse[1]);
        assert_eq!(
            good[2], worse[2],
            "block hashes are positional, not chained"
        );
    }

    #[test]
    fn bytes_beyond_the_size_or_across_two_block_ends_are_refused() {
        let mut h = FileHasher::new(10);
        h.update(b"12345").unwrap();
        assert!(h.update(b"123456").is_err());
        assert_eq!(h.position(), 5);
        assert!(h.update(b"12345").unwrap().is_some());
        assert!(h.update(b"x").is_err());
        // A block and the short last one in one piece: refused.
        let file = data(B + 10);
        let mut h = FileHasher::new(file.len() as u64);
        h.update(&file[..B - 5]).unwrap();
        assert!(h.update(&file[B - 5..]).is_err());
        assert!(h.update(&file[B - 5..B + 3]).unwrap().is_some(), "one end");
        assert!(h.update(&file[B + 3..]).unwrap().is_some());
        assert_eq!(h.digest().unwrap(), *blake3::hash(&file).as_bytes());
    }

    #[test]
    fn a_prefix_is_read_up_to_block_ends_and_stops_when_asked() {
        let file = data(2 * B + 300);
        let h = hash_prefix(&file[..], file.len() as u64, 2 * B as u64, || false).unwrap();
        assert_eq!(
            h.digest().unwrap(),
            *blake3::hash(&file[..2 * B]).as_bytes()
        );
        let whole = hash_prefix(&file[..], file.len() as u64, file.len() as u64, || false);
        assert_eq!(
            whole.unwrap().digest().unwrap(),
            *blake3::hash(&file).as_bytes()
        );
        let short = hash_prefix(&file[..B], file.len() as u64, 2 * B as u64, || false);
        assert_eq!(short.unwrap_err().kind(), std::io::ErrorKind::UnexpectedEof);
        let stopped = hash_prefix(&file[..], file.len() as u64, B as u64, || true);
        assert_eq!(stopped.unwrap_err().kind(), std::io::ErrorKind::Interrupted);
    }

    #[test]
    fn hex_round_trip() {
        let hash = *blake3::hash(b"abc").as_bytes();
        assert_eq!(from_hex(&to_hex(&hash)).unwrap(), hash);
        assert!(from_hex("00").is_err());
        assert!(from_hex(&"zz".repeat(32)).is_err());
    }
}
