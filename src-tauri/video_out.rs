//! Decoded frames to the UI over Tauri channels (docs/ui-api.md "Video frames").
//!
//! Each message is raw bytes: `u32 width, u32 height, u64 capture µs` (little endian)
//! then the I420 planes. One task per channel takes the newest frame from a
//! [`FrameSlot`] and sends it; a renderer that falls behind sees the newest frame,
//! never a queue.

use parley_engine::client::FrameSlot;
use parley_engine::media::I420Frame;
use tauri::ipc::{Channel, InvokeResponseBody};

/// Header size of a frame message, bytes.
pub const HEADER_BYTES: usize = 16;

/// Serialises a frame for the UI.
pub fn encode(frame: &I420Frame) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_BYTES + frame.data.len());
    out.extend_from_slice(&frame.width.to_le_bytes());
    out.extend_from_slice(&frame.height.to_le_bytes());
    out.extend_from_slice(&frame.capture_us.to_le_bytes());
    out.extend_from_slice(&frame.data);
    out
}

/// Sends every frame put into `slot` to `channel` until the channel is gone.
pub fn pump(
    slot: FrameSlot,
    channel: Channel<InvokeResponseBody>,
) -> tauri::async_runtime::JoinHandle<()> {
    tauri::async_runtime::spawn(async move {
        loop {
            let frame = slot.next().await;
            if channel
                .send(InvokeResponseBody::Raw(encode(&frame)))
                .is_err()
            {
                break;
            }
        }
    })
}
