//! Fuzz targets for every parser that takes bytes from the network, and a small
//! deterministic mutator to drive them on stable Rust (no cargo-fuzz, which needs
//! nightly). `parley-bench --fuzz N` runs N inputs and prints inputs per second;
//! a short run is part of the tests.
//!
//! A target must never panic, whatever the bytes; inputs are capped at
//! [`MAX_INPUT_BYTES`] (the signaling frame limit), so a parser's allocations stay
//! bounded by its input.

use crate::binding::{DescriptionBinding, DescriptionType};
use crate::data::{decode_chunk, ChatFrame, ControlFrame, TransferFrame};
use crate::{ClientMessage, PeerId, ServerMessage};

/// Longest input a target gets, bytes.
pub const MAX_INPUT_BYTES: usize = crate::MAX_SIGNAL_FRAME_BYTES;

/// One parser under test.
pub struct Target {
    /// Short name, for reports.
    pub name: &'static str,
    /// Parses `input`; must return (with any result) and never panic.
    pub run: fn(&[u8]),
    /// Valid inputs the mutator starts from.
    pub seeds: fn() -> Vec<Vec<u8>>,
}

/// Every target: signaling messages both ways, the three data-channel text
/// protocols, binary file chunks, peer ids and invite links, and the SDP we read
/// fingerprints and ufrags from.
pub fn targets() -> Vec<Target> {
    vec![
        Target {
            name: "client_message",
            run: |b| {
                let _ = ClientMessage::parse(&String::from_utf8_lossy(b));
            },
            seeds: doc_examples,
        },
        Target {
            name: "server_message",
            run: |b| {
                let _ = ServerMessage::parse(&String::from_utf8_lossy(b));
            },
            seeds: doc_examples,
        },
        Target {
            name: "chat_frame",
            run: |b| {
                let _ = ChatFrame::parse(&String::from_utf8_lossy(b));
            },
            seeds: doc_examples,
        },
        Target {
            name: "control_frame",
            run: |b| {
                let _ = ControlFrame::parse(&String::from_utf8_lossy(b));
            },
            seeds: doc_examples,
        },
        Target {
            name: "transfer_frame",
            run: |b| {
                let _ = TransferFrame::parse(&String::from_utf8_lossy(b));
            },
            seeds: doc_examples,
        },
        Target {
            name: "chunk_frame",
            run: |b| {
                let _ = decode_chunk(b);
            },
            seeds: || {
                vec![crate::data::encode_chunk(
                    &[7; 16],
                    65536,
                    Some(&[3; 32]),
                    b"payload bytes",
                )]
            },
        },
        Target {
            name: "peer_id_and_invite_link",
            run: |b| {
                let s = String::from_utf8_lossy(b);
                let _ = PeerId::parse(&s);
                let _ = PeerId::from_invite_link(&s);
            },
            seeds: || {
                vec![
                    b"iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w".to_vec(),
                    b"parley://add/gTl3Dqh9F19Wo1Rmw0x-zMuNipG07jeiXfYPW4_Js5Q/?x#y".to_vec(),
                ]
            },
        },
        Target {
            name: "sdp_binding",
            run: |b| {
                let sdp = String::from_utf8_lossy(b);
                let id =
                    PeerId::parse("iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w").expect("valid");
                if let Ok(binding) =
                    DescriptionBinding::from_sdp("c", &id, &id, DescriptionType::Offer, &sdp)
                {
                    let _ = binding.signed_bytes();
                    let _ = binding.verify(Some("AAAA"));
                }
            },
            seeds: || vec![SDP_SEED.as_bytes().to_vec()],
        },
    ]
}

const SDP_SEED: &str = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
a=fingerprint:sha-256 0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=ice-ufrag:aBcD\r\na=ice-pwd:0123456789abcdefghijkl\r\na=mid:0\r\n";

/// Every JSON example line of docs/protocol.md: signaling and data-channel frames.
fn doc_examples() -> Vec<Vec<u8>> {
    include_str!("../../../docs/protocol.md")
        .lines()
        .filter(|l| l.starts_with("{\"type\""))
        .map(|l| l.as_bytes().to_vec())
        .collect()
}

/// Fragments that tend to reach parser corners.
const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"null",
    b"true",
    b"-1",
    b"0",
    b"18446744073709551616",
    b"1e999",
    b"\"type\"",
    b"\"offer\"",
    b"\"call_id\"",
    b"\\u0000",
    b"\\ud800",
    b"\xff",
    b"\xc3\x28",
    b"a=fingerprint:",
    b"a=ice-ufrag:",
    b"\r\n",
    b"parley://add/",
    b"-",
];

/// A deterministic mutator (xorshift64*): the same seed gives the same inputs, so a
/// failure is reproducible from its seed and count.
pub struct Mutator {
    state: u64,
}

impl Mutator {
    /// A mutator seeded with `seed` (0 is replaced by a fixed constant).
    pub fn new(seed: u64) -> Mutator {
        Mutator {
            state: if seed == 0 {
                0x9E37_79B9_7F4A_7C15
            } else {
                seed
            },
        }
    }

    fn next(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    /// A new input: one of `seeds` with 1 to 8 random edits (byte flips, inserted
    /// tokens or random bytes, deleted, duplicated or spliced ranges, truncation),
    /// at most [`MAX_INPUT_BYTES`] long.
    pub fn input(&mut self, seeds: &[Vec<u8>]) -> Vec<u8> {
        let mut data = if seeds.is_empty() {
            Vec::new()
        } else {
            seeds[self.below(seeds.len())].clone()
        };
        for _ in 0..1 + self.below(8) {
            let len = data.len();
            let at = self.below(len + 1);
            match self.below(7) {
                0 if len > 0 => {
                    let i = self.below(len);
                    data[i] ^= 1 << self.below(8);
                }
                1 => {
                    let token = TOKENS[self.below(TOKENS.len())];
                    data.splice(at..at, token.iter().copied());
                }
                2 => {
                    let n = 1 + self.below(16);
                    let bytes: Vec<u8> = (0..n).map(|_| self.next() as u8).collect();
                    data.splice(at..at, bytes);
                }
                3 if len > 0 => {
                    let end = (at + 1 + self.below(32)).min(len);
                    data.drain(at.min(end)..end);
                }
                4 if len > 0 => {
                    let start = self.below(len);
                    let end = (start + 1 + self.below(64)).min(len);
                    let copy = data[start..end].to_vec();
                    data.splice(at..at, copy);
                }
                5 if !seeds.is_empty() => {
                    let other = &seeds[self.below(seeds.len())];
                    let from = self.below(other.len() + 1);
                    data.truncate(at);
                    data.extend_from_slice(&other[from..]);
                }
                _ => data.truncate(at),
            }
        }
        data.truncate(MAX_INPUT_BYTES);
        data
    }
}

#[cfg(test)]
mod tests;
