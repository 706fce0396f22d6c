//! Parley's Tauri-free core.
//!
//! - [`identity`] and [`storage`]: the profile folder (Ed25519 key pair, contacts and
//!   chat history in SQLite).
//! - [`signaling`]: the WebSocket client for `parley-signal`, with reconnect and backoff.
//! - [`rtc`]: our own interface over webrtc-rs (pinned), the only module that names it.
//! - [`call`]: one 1:1 call: signaling, peer connection, media, chat and transfers.
//! - [`client`]: the signed-in user as the desktop app sees it: presence, incoming
//!   calls, the current call, frames for rendering.
//! - [`media`]: video and audio sources, codecs and sinks.
//! - [`chat`] and [`transfer`]: the data-channel protocols.
//! - [`nearby`]: finding Parleys on the local network (mDNS / DNS-SD) and
//!   announcing ourselves.

pub mod call;
pub mod channel;
pub mod chat;
pub mod client;
pub mod doctor;
pub mod error;
pub mod identity;
pub mod media;
pub mod nearby;
pub mod netwatch;
pub mod rtc;
pub mod signaling;
mod stop;
pub mod storage;
mod tls;
pub mod transfer;

pub use error::{Error, Result};
