//! Safety numbers: a short number two people compare (aloud, or side by side) to
//! know that each holds the other's real id, so no server swapped keys
//! (docs/protocol.md §2.1). The idea and the shape, 12 groups of 5 digits, are
//! Signal's.

use sha2::{Digest as _, Sha512};

use crate::PeerId;

/// Domain-separation prefix hashed before each id (trailing NUL included).
pub const SAFETY_CONTEXT: &[u8] = b"parley-safety-number-v1\0";

/// Groups of 5 digits per id; the number has twice as many.
const GROUPS_PER_ID: usize = 6;

/// The safety number of the pair `a`, `b`: 12 groups of 5 decimal digits
/// separated by single spaces (71 chars). The same on both sides: it does not
/// depend on the order of the arguments.
///
/// Each id gives 30 digits: the first 30 bytes of SHA-512(`SAFETY_CONTEXT` ‖ the
/// id's 32-byte public key), read as six 5-byte big-endian numbers, each modulo
/// 100000 and zero-padded to 5 digits. The two ids' digit strings are sorted and
/// joined. An id that is not a valid key hashes its text instead (callers pass
/// validated ids).
pub fn safety_number(a: &PeerId, b: &PeerId) -> String {
    let mut halves = [digits(a), digits(b)];
    halves.sort();
    halves
        .concat()
        .chunks(5)
        .map(|g| String::from_utf8_lossy(g).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The 30 digits one id contributes.
fn digits(id: &PeerId) -> Vec<u8> {
    let key = id
        .verifying_key()
        .map(|k| k.to_bytes().to_vec())
        .unwrap_or_else(|_| id.as_str().as_bytes().to_vec());
    let hash = Sha512::new()
        .chain_update(SAFETY_CONTEXT)
        .chain_update(&key)
        .finalize();
    let mut out = Vec::with_capacity(GROUPS_PER_ID * 5);
    for chunk in hash[..GROUPS_PER_ID * 5].chunks(5) {
        let n = chunk.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)) % 100_000;
        out.extend_from_slice(format!("{n:05}").as_bytes());
    }
    out
}

#[cfg(test)]
mod tests;
