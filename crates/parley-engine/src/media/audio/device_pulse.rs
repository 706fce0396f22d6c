//! Microphone capture straight from a PulseAudio (or pipewire-pulse) server,
//! used by [`super::MicSource`] on Linux whenever cpal's host is PulseAudio.
//!
//! cpal 0.18's PulseAudio record streams cap the server's queue at one
//! fragment: a block that does not fit is dropped, and the queue can stall
//! short of a whole fragment for good, after which the server sends nothing
//! (seen after about 4 s on a monitor a player fed). Here the queue keeps the
//! server's maximum and only the fragment is short: 20 ms, with
//! `adjust_latency` so the source runs at that latency too. The server
//! converts to 48 kHz mono float, which is what the call encodes.

use std::ffi::CString;
use std::sync::Arc;

use futures::executor::block_on;
use pulseaudio::protocol::{
    stream::{BufferAttr, StreamFlags},
    ChannelMap, RecordStreamParams, SampleFormat, SampleSpec,
};

use super::{Framer, Shared};
use crate::media::audio::SAMPLE_RATE_HZ;
use crate::media::MediaError;

/// Bytes in one 32-bit float sample.
const SAMPLE_BYTES: usize = 4;

/// A live record stream; dropping it deletes the stream and disconnects.
pub struct PulseRecord {
    _stream: pulseaudio::RecordStream,
    _client: pulseaudio::Client,
}

fn err(what: &str) -> impl Fn(pulseaudio::ClientError) -> MediaError + '_ {
    move |e| MediaError::Device(format!("{what}: {e}"))
}

/// Records source `name` (a PulseAudio source name, such as
/// `alsa_input.usb-…` or `speaker.monitor`) into `shared` in 20 ms frames of
/// 48 kHz mono.
///
/// # Errors
/// [`MediaError::Device`] when the server cannot be reached or refuses the
/// stream (no such source).
pub fn open_record(name: &str, shared: Arc<Shared<Vec<f32>>>) -> Result<PulseRecord, MediaError> {
    let client_name = CString::new(format!("parley-{}", std::process::id()))
        .map_err(|e| MediaError::Invalid(e.to_string()))?;
    let source = CString::new(name).map_err(|e| MediaError::Invalid(e.to_string()))?;
    let client =
        pulseaudio::Client::from_env(&client_name).map_err(err("connect to PulseAudio"))?;
    let fragment = SAMPLE_RATE_HZ / 50 * SAMPLE_BYTES as u32;
    let params = RecordStreamParams {
        sample_spec: SampleSpec {
            format: SampleFormat::Float32Le,
            channels: 1,
            sample_rate: SAMPLE_RATE_HZ,
        },
        channel_map: ChannelMap::mono(),
        source_name: Some(source),
        buffer_attr: BufferAttr {
            fragment_size: fragment,
            ..Default::default()
        },
        flags: StreamFlags {
            adjust_latency: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut framer = Framer::new();
    // Blocks split mid-sample keep the part for the next.
    let (mut carry, mut samples) = (Vec::<u8>::new(), Vec::<f32>::new());
    let record = move |data: &[u8]| {
        carry.extend_from_slice(data);
        let whole = carry.len() / SAMPLE_BYTES * SAMPLE_BYTES;
        samples.clear();
        samples.extend(
            carry[..whole]
                .chunks_exact(SAMPLE_BYTES)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
        carry.drain(..whole);
        framer.push(&samples, &shared);
    };
    let stream =
        block_on(client.create_record_stream(params, record)).map_err(err("open microphone"))?;
    Ok(PulseRecord {
        _stream: stream,
        _client: client,
    })
}
