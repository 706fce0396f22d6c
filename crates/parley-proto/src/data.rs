//! Data-channel protocols between two peers (the server never sees these).
//!
//! Three reliable, ordered channels, each identified by its label:
//! - [`CHAT_LABEL`]: [`ChatFrame`] JSON text frames.
//! - [`CONTROL_LABEL`]: [`ControlFrame`] JSON text frames.
//! - [`FILE_LABEL`]: [`TransferFrame`] JSON text frames plus binary chunk frames
//!   ([`encode_chunk`] / [`decode_chunk`]).

use serde::{Deserialize, Serialize};

use crate::json::{parse_tagged, to_json};
use crate::ProtoError;

/// Label of the chat data channel.
pub const CHAT_LABEL: &str = "chat";
/// Label of the file-transfer data channel.
pub const FILE_LABEL: &str = "file";
/// Label of the control data channel.
pub const CONTROL_LABEL: &str = "control";

/// Version of the file protocol ([`TransferFrame`] and chunk frames) this crate
/// speaks, carried in every `offer` (docs/protocol.md §8.3). Version 1 (no
/// `version` field) hashed the whole file with SHA-256 before offering it;
/// version 2 hashes while sending: BLAKE3, verified block by block.
pub const FILE_PROTOCOL_VERSION: u32 = 2;

/// Length of a binary chunk header, bytes: 16-byte transfer id, 8-byte
/// offset, 1 flags byte, 32-byte block hash (zeros when the flags say none).
pub const CHUNK_HEADER_BYTES: usize = 57;
/// Payload bytes per chunk, chosen so a chunk frame is exactly 64 KiB (the
/// largest message a webrtc-rs data channel takes).
pub const CHUNK_PAYLOAD_BYTES: usize = 64 * 1024 - CHUNK_HEADER_BYTES;

/// Flags bit of a chunk header: a block's chaining value follows the flags.
const FLAG_BLOCK_HASH: u8 = 1;

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Message id: lowercase hex of 16 random bytes (32 chars), chosen by the
    /// sender; the receiver acks it.
    pub id: String,
    /// The text, UTF-8.
    pub text: String,
    /// Sender's wall clock when sent, Unix time in milliseconds.
    pub sent_at_ms: u64,
}

impl ChatMessage {
    /// A message whose id is the hex of `id_bytes` (pass 16 random bytes).
    pub fn new(id_bytes: [u8; 16], text: impl Into<String>, sent_at_ms: u64) -> ChatMessage {
        ChatMessage {
            id: hex::encode(id_bytes),
            text: text.into(),
            sent_at_ms,
        }
    }
}

/// A frame on the chat channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChatFrame {
    /// A message: `{"type":"message","id":…,"text":…,"sent_at_ms":…}`.
    Message(ChatMessage),
    /// Receipt of the message with this id: `{"type":"ack","id":…}`.
    Ack {
        /// The acknowledged message's id.
        id: String,
    },
}

impl ChatFrame {
    /// Parses a chat text frame.
    ///
    /// Errors: [`ProtoError::Malformed`], [`ProtoError::UnknownType`].
    pub fn parse(text: &str) -> Result<ChatFrame, ProtoError> {
        parse_tagged(text, &["message", "ack"])
    }

    /// The frame as compact JSON text.
    pub fn to_json(&self) -> String {
        to_json(self)
    }
}

/// A frame on the control channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ControlFrame {
    /// The sender's current mute state (`true` = muted).
    Mute {
        /// Microphone muted.
        audio: bool,
        /// Camera muted.
        video: bool,
    },
    /// The sender is ending the call (sent before closing the peer connection).
    Hangup,
    /// The sender started (`true`) or stopped (`false`) sending its screen on the
    /// call's screen track (the second video track, track id `screen`).
    ScreenShare {
        /// Whether the screen track now carries the sender's screen.
        sharing: bool,
    },
}

impl ControlFrame {
    /// Parses a control text frame.
    ///
    /// Errors: [`ProtoError::Malformed`], [`ProtoError::UnknownType`].
    pub fn parse(text: &str) -> Result<ControlFrame, ProtoError> {
        parse_tagged(text, &["mute", "hangup", "screen_share"])
    }

    /// The frame as compact JSON text.
    pub fn to_json(&self) -> String {
        to_json(self)
    }
}

/// A text frame on the file channel. `transfer_id` is the lowercase hex (32 chars)
/// of the 16-byte id carried in chunk headers (see [`transfer_id_to_hex`]).
///
/// Flow (version 2): sender `offer` → receiver `accept` (offset 0) or
/// `decline`, or first `have` → sender `resume` → receiver `accept` (with the
/// resume offset) or `complete` (it holds the file already) → sender streams
/// chunks from that offset, each block's hash with its last bytes → sender
/// `done` with the whole file's BLAKE3 → receiver `complete` or `failed`.
/// Either side may `cancel` at any time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TransferFrame {
    /// Sender proposes a file.
    Offer {
        /// Transfer id, 32 lowercase hex chars.
        transfer_id: String,
        /// File name as the sender knows it; receivers must sanitise it and keep
        /// the file inside their receive folder (docs/protocol.md).
        name: String,
        /// File size, bytes.
        size: u64,
        /// File protocol version ([`FILE_PROTOCOL_VERSION`]); absent (1) from
        /// senders before version 2, which a version 2 receiver declines.
        #[serde(default = "file_protocol_v1")]
        version: u32,
        /// The dropped folder this file belongs to, if any: the receiver asks
        /// its user once for the whole folder (docs/protocol.md §8.3, protocol
        /// 5; older receivers ignore the field and ask per file).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        batch: Option<Batch>,
    },
    /// Receiver accepts; the sender starts at `offset`.
    Accept {
        /// Transfer id.
        transfer_id: String,
        /// Resume offset, bytes: how much the receiver already has (0 for a fresh
        /// transfer).
        offset: u64,
    },
    /// Receiver (version 2): it holds the first `offset` bytes of a file that
    /// may be this one (a kept partial file, or a file of the same name and
    /// size); the sender answers with [`TransferFrame::Resume`].
    Have {
        /// Transfer id.
        transfer_id: String,
        /// Bytes held: a multiple of [`crate::file_hash::BLOCK_BYTES`], or the
        /// offered size.
        offset: u64,
        /// BLAKE3 of those bytes, lowercase hex (64 chars).
        blake3: String,
    },
    /// Sender (version 2), answering `have`: where to go on from. `offset` is
    /// the `have`'s when its hash matches the sender's first bytes, else 0
    /// (start over).
    Resume {
        /// Transfer id.
        transfer_id: String,
        /// Bytes of the receiver's that the sender vouches for.
        offset: u64,
    },
    /// Receiver refuses the offer.
    Decline {
        /// Transfer id.
        transfer_id: String,
        /// Human-readable reason.
        reason: String,
    },
    /// Either side aborts the transfer.
    Cancel {
        /// Transfer id.
        transfer_id: String,
        /// Human-readable reason.
        reason: String,
    },
    /// Sender: every byte has been sent.
    Done {
        /// Transfer id.
        transfer_id: String,
        /// BLAKE3 of the whole file, lowercase hex (64 chars), computed while
        /// reading it to send (version 2).
        blake3: String,
    },
    /// Receiver: size and hash verified, file saved.
    Complete {
        /// Transfer id.
        transfer_id: String,
    },
    /// Receiver: the transfer failed, at `done` (size or hash mismatch) or mid-way
    /// (a write failed, e.g. the disk is full). Wrong data is discarded; after a
    /// write error the received part is kept, so the same file offered again
    /// resumes (docs/protocol.md §8.3).
    Failed {
        /// Transfer id.
        transfer_id: String,
        /// Human-readable reason.
        reason: String,
    },
}

impl TransferFrame {
    /// Parses a file-channel text frame and checks its transfer id.
    ///
    /// Errors: [`ProtoError::Malformed`], [`ProtoError::UnknownType`],
    /// [`ProtoError::InvalidTransferId`].
    pub fn parse(text: &str) -> Result<TransferFrame, ProtoError> {
        let frame: TransferFrame = parse_tagged(
            text,
            &[
                "offer", "accept", "have", "resume", "decline", "cancel", "done", "complete",
                "failed",
            ],
        )?;
        transfer_id_from_hex(frame.transfer_id())?;
        Ok(frame)
    }

    /// The transfer this frame is about (hex).
    pub fn transfer_id(&self) -> &str {
        match self {
            TransferFrame::Offer { transfer_id, .. }
            | TransferFrame::Accept { transfer_id, .. }
            | TransferFrame::Have { transfer_id, .. }
            | TransferFrame::Resume { transfer_id, .. }
            | TransferFrame::Decline { transfer_id, .. }
            | TransferFrame::Cancel { transfer_id, .. }
            | TransferFrame::Done { transfer_id, .. }
            | TransferFrame::Complete { transfer_id }
            | TransferFrame::Failed { transfer_id, .. } => transfer_id,
        }
    }

    /// The frame as compact JSON text.
    pub fn to_json(&self) -> String {
        to_json(self)
    }
}

fn file_protocol_v1() -> u32 {
    1
}

/// A dropped folder sent as many offers: what the receiver is asked about
/// once, carried in each of its offers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Batch {
    /// Batch id, 32 lowercase hex chars (16 random bytes), the same in every
    /// offer of the folder and on every attempt.
    pub id: String,
    /// The folder's name as the sender knows it (receivers sanitise it).
    pub name: String,
    /// Offers in the batch: its files and empty folders.
    pub files: u64,
    /// Total size of its files, bytes.
    pub size: u64,
}

/// Lowercase hex (32 chars) of a 16-byte transfer id.
pub fn transfer_id_to_hex(id: &[u8; 16]) -> String {
    hex::encode(id)
}

/// Parses a transfer id from 32 lowercase hex chars.
///
/// Errors: [`ProtoError::InvalidTransferId`].
pub fn transfer_id_from_hex(s: &str) -> Result<[u8; 16], ProtoError> {
    let invalid = || ProtoError::InvalidTransferId {
        transfer_id: s.chars().take(64).collect(),
    };
    if s.len() != 32 || s.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(invalid());
    }
    let mut id = [0u8; 16];
    hex::decode_to_slice(s, &mut id).map_err(|_| invalid())?;
    Ok(id)
}

/// Header of a binary chunk frame on the file channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChunkHeader {
    /// The transfer, raw 16 bytes.
    pub transfer_id: [u8; 16],
    /// Position of the payload's first byte in the file, bytes.
    pub offset: u64,
    /// The BLAKE3 chaining value of the block whose last byte is in this
    /// chunk's payload ([`crate::file_hash`]); `None` when no block ends in it.
    pub block_hash: Option<[u8; 32]>,
}

/// Writes a chunk header into `frame[..CHUNK_HEADER_BYTES]` (the payload
/// follows it): 16-byte transfer id, 8-byte big-endian offset, a flags byte
/// (bit 0: the block hash is set), the 32-byte block hash or zeros
/// (docs/protocol.md §8.3). A sender reads the payload into the frame itself
/// and writes the header once the payload is hashed.
///
/// Panics if `frame` is shorter than [`CHUNK_HEADER_BYTES`].
pub fn write_chunk_header(
    frame: &mut [u8],
    transfer_id: &[u8; 16],
    offset: u64,
    block_hash: Option<&[u8; 32]>,
) {
    frame[..16].copy_from_slice(transfer_id);
    frame[16..24].copy_from_slice(&offset.to_be_bytes());
    match block_hash {
        Some(hash) => {
            frame[24] = FLAG_BLOCK_HASH;
            frame[25..CHUNK_HEADER_BYTES].copy_from_slice(hash);
        }
        None => {
            frame[24] = 0;
            frame[25..CHUNK_HEADER_BYTES].fill(0);
        }
    }
}

/// Builds a chunk frame: the header ([`write_chunk_header`]), then `payload`.
///
/// Payloads should be at most [`CHUNK_PAYLOAD_BYTES`] so the frame fits 64 KiB.
pub fn encode_chunk(
    transfer_id: &[u8; 16],
    offset: u64,
    block_hash: Option<&[u8; 32]>,
    payload: &[u8],
) -> Vec<u8> {
    let mut frame = vec![0u8; CHUNK_HEADER_BYTES + payload.len()];
    write_chunk_header(&mut frame, transfer_id, offset, block_hash);
    frame[CHUNK_HEADER_BYTES..].copy_from_slice(payload);
    frame
}

/// Splits a chunk frame into its header and payload (borrowed from `frame`).
///
/// Errors: [`ProtoError::ChunkTooShort`] if `frame` is shorter than the
/// 57-byte header; [`ProtoError::Malformed`] for unknown flags.
pub fn decode_chunk(frame: &[u8]) -> Result<(ChunkHeader, &[u8]), ProtoError> {
    if frame.len() < CHUNK_HEADER_BYTES {
        return Err(ProtoError::ChunkTooShort { bytes: frame.len() });
    }
    let (header, payload) = frame.split_at(CHUNK_HEADER_BYTES);
    let mut transfer_id = [0u8; 16];
    transfer_id.copy_from_slice(&header[..16]);
    let mut offset = [0u8; 8];
    offset.copy_from_slice(&header[16..24]);
    let block_hash = match header[24] {
        0 => None,
        FLAG_BLOCK_HASH => {
            let mut hash = [0u8; 32];
            hash.copy_from_slice(&header[25..]);
            Some(hash)
        }
        other => {
            return Err(ProtoError::malformed(format!(
                "unknown chunk flags {other:#04x}"
            )))
        }
    };
    Ok((
        ChunkHeader {
            transfer_id,
            offset: u64::from_be_bytes(offset),
            block_hash,
        },
        payload,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_round_trip_and_shape() {
        let msg = ChatMessage::new([0xab; 16], "hi", 1_700_000_000_000);
        assert_eq!(msg.id, "ab".repeat(16));
        let frame = ChatFrame::Message(msg);
        let json = frame.to_json();
        assert!(json.starts_with(r#"{"type":"message","id":""#), "{json}");
        assert_eq!(ChatFrame::parse(&json).unwrap(), frame);
        let ack = ChatFrame::Ack { id: "x".into() };
        assert_eq!(ack.to_json(), r#"{"type":"ack","id":"x"}"#);
        assert_eq!(ChatFrame::parse(&ack.to_json()).unwrap(), ack);
    }

    #[test]
    fn control_round_trip_and_shape() {
        let mute = ControlFrame::Mute {
            audio: true,
            video: false,
        };
        assert_eq!(
            mute.to_json(),
            r#"{"type":"mute","audio":true,"video":false}"#
        );
        assert_eq!(ControlFrame::parse(&mute.to_json()).unwrap(), mute);
        assert_eq!(ControlFrame::Hangup.to_json(), r#"{"type":"hangup"}"#);
        let share = ControlFrame::ScreenShare { sharing: true };
        assert_eq!(share.to_json(), r#"{"type":"screen_share","sharing":true}"#);
        assert_eq!(ControlFrame::parse(&share.to_json()).unwrap(), share);
        assert_eq!(
            ControlFrame::parse(r#"{"type":"hangup"}"#).unwrap(),
            ControlFrame::Hangup
        );
    }

    #[test]
    fn data_parse_errors() {
        assert_eq!(
            ChatFrame::parse(r#"{"type":"wave"}"#).unwrap_err().code(),
            crate::ErrorCode::UnknownType
        );
        assert_eq!(
            ChatFrame::parse(r#"{"type":"message","id":"x"}"#)
                .unwrap_err()
                .code(),
            crate::ErrorCode::Malformed
        );
        assert_eq!(
            ControlFrame::parse("{").unwrap_err().code(),
            crate::ErrorCode::Malformed
        );
        assert!(matches!(
            TransferFrame::parse(r#"{"type":"done","transfer_id":"zz","blake3":""}"#),
            Err(ProtoError::InvalidTransferId { .. })
        ));
    }

    #[test]
    fn transfer_round_trip() {
        let tid = transfer_id_to_hex(&[7; 16]);
        let frames = [
            TransferFrame::Offer {
                transfer_id: tid.clone(),
                name: "a.txt".into(),
                size: 10,
                version: FILE_PROTOCOL_VERSION,
                batch: None,
            },
            TransferFrame::Offer {
                transfer_id: tid.clone(),
                name: "trip/a.txt".into(),
                size: 10,
                version: FILE_PROTOCOL_VERSION,
                batch: Some(Batch {
                    id: "ab".repeat(16),
                    name: "trip".into(),
                    files: 3,
                    size: 30,
                }),
            },
            TransferFrame::Accept {
                transfer_id: tid.clone(),
                offset: 4,
            },
            TransferFrame::Decline {
                transfer_id: tid.clone(),
                reason: "no".into(),
            },
            TransferFrame::Cancel {
                transfer_id: tid.clone(),
                reason: "stop".into(),
            },
            TransferFrame::Have {
                transfer_id: tid.clone(),
                offset: 1 << 20,
                blake3: "ab".repeat(32),
            },
            TransferFrame::Resume {
                transfer_id: tid.clone(),
                offset: 0,
            },
            TransferFrame::Done {
                transfer_id: tid.clone(),
                blake3: "cd".repeat(32),
            },
            TransferFrame::Complete {
                transfer_id: tid.clone(),
            },
            TransferFrame::Failed {
                transfer_id: tid.clone(),
                reason: "hash mismatch".into(),
            },
        ];
        for f in frames {
            assert_eq!(TransferFrame::parse(&f.to_json()).unwrap(), f);
            assert_eq!(f.transfer_id(), tid);
        }
        assert_eq!(
            TransferFrame::Accept {
                transfer_id: tid.clone(),
                offset: 4
            }
            .to_json(),
            format!(r#"{{"type":"accept","transfer_id":"{tid}","offset":4}}"#)
        );
        // A version 1 offer (SHA-256, no version) still parses, as version 1,
        // so the receiver can refuse it clearly.
        let v1 = format!(
            r#"{{"type":"offer","transfer_id":"{tid}","name":"a","size":1,"sha256":"{}"}}"#,
            "00".repeat(32)
        );
        assert!(matches!(
            TransferFrame::parse(&v1).unwrap(),
            TransferFrame::Offer { version: 1, .. }
        ));
    }

    #[test]
    fn transfer_id_hex() {
        let id = [
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0, 0, 0, 0, 0, 0, 0, 0xff,
        ];
        let s = transfer_id_to_hex(&id);
        assert_eq!(s, "0123456789abcdef00000000000000ff");
        assert_eq!(transfer_id_from_hex(&s).unwrap(), id);
        assert!(transfer_id_from_hex(&s.to_uppercase()).is_err());
        assert!(transfer_id_from_hex(&s[..30]).is_err());
        assert!(transfer_id_from_hex(&"g".repeat(32)).is_err());
    }

    #[test]
    fn chunk_codec() {
        let id = [9u8; 16];
        let frame = encode_chunk(&id, 0x0102_0304_0506_0708, None, b"payload");
        assert_eq!(frame.len(), CHUNK_HEADER_BYTES + 7);
        assert_eq!(&frame[16..24], &[1, 2, 3, 4, 5, 6, 7, 8]);
        let (header, payload) = decode_chunk(&frame).unwrap();
        assert_eq!(header.transfer_id, id);
        assert_eq!(header.offset, 0x0102_0304_0506_0708);
        assert_eq!(header.block_hash, None);
        assert_eq!(payload, b"payload");

        let hash = [0xab; 32];
        let frame = encode_chunk(&id, 5, Some(&hash), b"tail");
        assert_eq!(frame.len(), CHUNK_HEADER_BYTES + 4);
        let (header, payload) = decode_chunk(&frame).unwrap();
        assert_eq!((header.offset, header.block_hash), (5, Some(hash)));
        assert_eq!(payload, b"tail");
        // An unknown flag: refused.
        let mut odd = encode_chunk(&id, 0, None, b"x");
        odd[24] = 2;
        assert!(decode_chunk(&odd).is_err());

        let header_only = encode_chunk(&id, 0, None, &[]);
        let (_, empty) = decode_chunk(&header_only).unwrap();
        assert!(empty.is_empty());
        assert_eq!(
            decode_chunk(&[0u8; 56]),
            Err(ProtoError::ChunkTooShort { bytes: 56 })
        );
        assert_eq!(CHUNK_HEADER_BYTES + CHUNK_PAYLOAD_BYTES, 65536);
    }
}
