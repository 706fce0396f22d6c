//! H.264 over openh264: a Constrained Baseline real-time encoder and a decoder.

use openh264::decoder::Decoder;
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, Profile,
    RateControlMode, UsageType,
};
use openh264::formats::{YUVSlices, YUVSource};
use openh264::{OpenH264API, Timestamp};
use openh264_sys2::{
    SBitrateInfo, ENCODER_OPTION, ENCODER_OPTION_BITRATE, ENCODER_OPTION_FRAME_RATE,
    ENCODER_OPTION_MAX_BITRATE, LAYER_NUM, SPATIAL_LAYER_0, SPATIAL_LAYER_ALL,
};

use super::I420Frame;
use crate::media::{monotonic_us, MediaError};

fn codec_err(what: &str, e: openh264::Error) -> MediaError {
    MediaError::Codec(format!("openh264 {what}: {e}"))
}

/// What the encoder is tuned for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContentHint {
    /// Camera video: smooth motion, frames skipped only under rate pressure.
    #[default]
    Camera,
    /// Screen content: openh264's screen mode (sharp text, palette-like areas);
    /// under rate pressure frames are skipped rather than blurred.
    Screen,
}

/// A real-time H.264 encoder (Constrained Baseline, one slice per frame, one
/// thread, bitrate rate control, an IDR with SPS/PPS every 2 s and on request).
pub struct H264Encoder {
    inner: Encoder,
    content: ContentHint,
    fps: f64,
    bitrate_bps: u32,
    pending_bps: Option<u32>,
    /// A frame rate to tell openh264 at the next frame, frames/s.
    pending_fps: Option<f64>,
    /// Whether the crate's bitrate cap was lifted on the running encoder.
    max_lifted: bool,
    frames_since_config: u64,
    keyframe_requested: bool,
}

impl H264Encoder {
    /// Smallest relative change that [`set_bitrate`](Self::set_bitrate) passes
    /// on to the encoder.
    const MIN_BITRATE_CHANGE: f64 = 0.05;

    /// An encoder for frames of about `width × height` pixels at `fps` frames per
    /// second, targeting `bitrate_bps` bits per second. The first frame is an IDR.
    ///
    /// # Errors
    /// [`MediaError::Invalid`] for odd or zero dimensions, a non-positive `fps` or
    /// a zero bitrate; [`MediaError::Codec`] if openh264 refuses.
    pub fn new(width: u32, height: u32, fps: f64, bitrate_bps: u32) -> Result<Self, MediaError> {
        Self::with_content(width, height, fps, bitrate_bps, ContentHint::Camera)
    }

    /// As [`new`](Self::new), tuned for `content`.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_content(
        width: u32,
        height: u32,
        fps: f64,
        bitrate_bps: u32,
        content: ContentHint,
    ) -> Result<Self, MediaError> {
        check_dims(width, height)?;
        if !(fps.is_finite() && fps > 0.0) || bitrate_bps == 0 {
            return Err(MediaError::Invalid(format!(
                "H.264 encoder at {fps} Hz and {bitrate_bps} bit/s"
            )));
        }
        Ok(Self {
            inner: build(fps, bitrate_bps, content)?,
            content,
            fps,
            bitrate_bps,
            pending_bps: None,
            pending_fps: None,
            max_lifted: false,
            frames_since_config: 0,
            keyframe_requested: false,
        })
    }

    /// Makes the next encoded frame an IDR (call on PLI/FIR from the receiver).
    pub fn request_keyframe(&mut self) {
        self.keyframe_requested = true;
    }

    /// The bitrate currently configured, in bits per second.
    pub fn bitrate_bps(&self) -> u32 {
        self.bitrate_bps
    }

    /// Sets the target bitrate in bits per second (from the congestion controller).
    ///
    /// Applied at the next [`encode`](Self::encode) to the running encoder
    /// (openh264's `ENCODER_OPTION_BITRATE`, as libwebrtc's H.264 wrapper does),
    /// so no IDR follows; changes under 5 % are ignored and the latest value wins.
    pub fn set_bitrate(&mut self, bitrate_bps: u32) {
        let bps = bitrate_bps.max(10_000);
        let change = (f64::from(bps) - f64::from(self.bitrate_bps)).abs();
        self.pending_bps =
            (change >= Self::MIN_BITRATE_CHANGE * f64::from(self.bitrate_bps)).then_some(bps);
    }

    /// Tells the encoder frames now come at `fps` frames per second (a sender
    /// that leaves frames out), so rate control spreads the bitrate over the
    /// frames it gets; applied at the next [`encode`](Self::encode).
    pub fn set_frame_rate(&mut self, fps: f64) {
        if fps.is_finite() && fps > 0.0 {
            self.pending_fps = Some(fps);
        }
    }

    /// Encodes one frame into an Annex-B access unit (start-code-prefixed NAL
    /// units; SPS and PPS precede each IDR). Returns an empty `Vec` when rate
    /// control skips the frame.
    ///
    /// # Errors
    /// [`MediaError::Invalid`] for odd dimensions or a short buffer;
    /// [`MediaError::Codec`] if openh264 fails.
    pub fn encode(&mut self, frame: &I420Frame) -> Result<Vec<u8>, MediaError> {
        check_dims(frame.width, frame.height)?;
        if frame.data.len() != I420Frame::byte_len(frame.width, frame.height) {
            return Err(MediaError::Invalid("I420 buffer size mismatch".into()));
        }
        if self.frames_since_config > 0 && !self.max_lifted {
            // Initialised by its first frame: from now on rates change live.
            lift_max_bitrate(&mut self.inner);
            self.max_lifted = true;
        }
        if let Some(fps) = self.pending_fps.take() {
            let mut rate = fps as f32;
            if self.frames_since_config == 0
                || !set_option(&mut self.inner, ENCODER_OPTION_FRAME_RATE, &mut rate)
            {
                tracing::debug!("openh264 refused a frame rate of {fps}");
            }
        }
        if let Some(bps) = self.pending_bps.take() {
            // openh264 initialises itself at the first frame: before that, or if
            // it refuses the live change, a new encoder (whose first frame is an
            // IDR anyway before the first frame).
            if self.frames_since_config == 0 || !retune(&mut self.inner, bps) {
                self.inner = build(self.fps, bps, self.content)?;
                self.frames_since_config = 0;
                self.max_lifted = false;
            }
            self.bitrate_bps = bps;
        }
        if self.keyframe_requested && self.frames_since_config > 0 {
            self.inner.force_intra_frame();
        }
        let (w, h) = (frame.width as usize, frame.height as usize);
        let yuv = YUVSlices::new((frame.y(), frame.u(), frame.v()), (w, h), (w, w / 2, w / 2));
        let ts = Timestamp::from_millis(frame.capture_us / 1000);
        let bits = self
            .inner
            .encode_at(&yuv, ts)
            .map_err(|e| codec_err("encode", e))?;
        self.frames_since_config += 1;
        match bits.frame_type() {
            FrameType::Skip | FrameType::Invalid => return Ok(Vec::new()),
            FrameType::IDR => self.keyframe_requested = false,
            _ => {}
        }
        Ok(bits.to_vec())
    }
}

fn check_dims(width: u32, height: u32) -> Result<(), MediaError> {
    if width == 0 || height == 0 || width % 2 == 1 || height % 2 == 1 {
        return Err(MediaError::Invalid(format!(
            "H.264 needs even non-zero dimensions, got {width}x{height}"
        )));
    }
    Ok(())
}

/// Highest bitrate openh264 is allowed, bits/s: the crate caps the layer at
/// the bitrate it was built with, so without this a live raise is refused.
const MAX_BITRATE_BPS: u32 = 50_000_000;

/// Sets one of openh264's run-time options (`option`, taking a pointer to `T`)
/// on a running encoder; whether openh264 took it. The safe API of the
/// `openh264` crate has no such call.
#[allow(unsafe_code)]
fn set_option<T>(encoder: &mut Encoder, option: ENCODER_OPTION, value: &mut T) -> bool {
    // SAFETY: callers pass the value type openh264 documents for `option`
    // (SBitrateInfo for the bitrates, a float for the frame rate), openh264
    // reads it only during the call and `value` outlives it; an encoder not
    // yet initialised (no frame encoded) answers with an error, not a crash.
    let rc = unsafe {
        encoder
            .raw_api()
            .set_option(option, (value as *mut T).cast())
    };
    rc == 0
}

/// Changes a running encoder's target bitrate (`bps`, bits/s); whether
/// openh264 took it.
fn retune(encoder: &mut Encoder, bps: u32) -> bool {
    set_bitrate_option(encoder, ENCODER_OPTION_BITRATE, SPATIAL_LAYER_ALL, bps)
}

/// Sets a bitrate option (`option`: the target or the maximum) of `layer` to
/// `bps`, bits/s; whether openh264 took it.
fn set_bitrate_option(
    encoder: &mut Encoder,
    option: ENCODER_OPTION,
    layer: LAYER_NUM,
    bps: u32,
) -> bool {
    let Ok(bits) = std::os::raw::c_int::try_from(bps) else {
        return false;
    };
    let mut info = SBitrateInfo {
        iLayer: layer,
        iBitrate: bits,
    };
    set_option(encoder, option, &mut info)
}

/// Lifts the crate's cap on the bitrate (the bitrate the encoder was built
/// with) to [`MAX_BITRATE_BPS`], for the whole stream and its one layer.
fn lift_max_bitrate(encoder: &mut Encoder) {
    for layer in [SPATIAL_LAYER_ALL, SPATIAL_LAYER_0] {
        if !set_bitrate_option(encoder, ENCODER_OPTION_MAX_BITRATE, layer, MAX_BITRATE_BPS) {
            tracing::debug!("openh264 refused a maximum bitrate for layer {layer}");
        }
    }
}

fn build(fps: f64, bitrate_bps: u32, content: ContentHint) -> Result<Encoder, MediaError> {
    let gop = (fps * 2.0).round().max(1.0) as u32;
    let usage = match content {
        ContentHint::Camera => UsageType::CameraVideoRealTime,
        ContentHint::Screen => UsageType::ScreenContentRealTime,
    };
    let config = EncoderConfig::new()
        .bitrate(BitRate::from_bps(bitrate_bps))
        .max_frame_rate(FrameRate::from_hz(fps as f32))
        .rate_control_mode(RateControlMode::Bitrate)
        .usage_type(usage)
        .profile(Profile::Baseline)
        .intra_frame_period(IntraFramePeriod::from_num_frames(gop))
        .skip_frames(true)
        // Not supported for screen content (openh264 turns them off with a warning).
        .adaptive_quantization(content == ContentHint::Camera)
        .background_detection(content == ContentHint::Camera)
        .num_threads(1);
    Encoder::with_api_config(OpenH264API::from_source(), config).map_err(|e| codec_err("init", e))
}

/// An H.264 decoder producing tight [`I420Frame`]s.
pub struct H264Decoder {
    inner: Decoder,
}

impl H264Decoder {
    /// A decoder for any Baseline/Main stream openh264 understands.
    ///
    /// # Errors
    /// [`MediaError::Codec`] if openh264 fails to initialise.
    pub fn new() -> Result<Self, MediaError> {
        Ok(Self {
            inner: Decoder::new().map_err(|e| codec_err("decoder init", e))?,
        })
    }

    /// Decodes one Annex-B access unit. `Ok(None)` means no picture yet (parameter
    /// sets only, or the decoder needs more data). The frame's `capture_us` is the
    /// decode time in monotonic µs.
    ///
    /// # Errors
    /// [`MediaError::Codec`] on a corrupt bitstream; after one, wait for an IDR
    /// (request a keyframe from the sender).
    pub fn decode(&mut self, access_unit: &[u8]) -> Result<Option<I420Frame>, MediaError> {
        let Some(yuv) = self
            .inner
            .decode(access_unit)
            .map_err(|e| codec_err("decode", e))?
        else {
            return Ok(None);
        };
        let (w, h) = yuv.dimensions();
        let (sy, su, sv) = yuv.strides();
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let mut data = Vec::with_capacity(w * h + 2 * cw * ch);
        copy_plane(&mut data, yuv.y(), sy, w, h);
        copy_plane(&mut data, yuv.u(), su, cw, ch);
        copy_plane(&mut data, yuv.v(), sv, cw, ch);
        I420Frame::from_data(w as u32, h as u32, data, monotonic_us()).map(Some)
    }
}

fn copy_plane(dst: &mut Vec<u8>, src: &[u8], stride: usize, w: usize, h: usize) {
    for row in src.chunks(stride.max(1)).take(h) {
        dst.extend_from_slice(&row[..w.min(row.len())]);
    }
}

/// NAL unit types (`nal_unit_type`, 0–31) of an Annex-B access unit, in order:
/// 1 = non-IDR slice, 5 = IDR slice, 6 = SEI, 7 = SPS, 8 = PPS.
pub fn nal_types(access_unit: &[u8]) -> Vec<u8> {
    openh264::nal_units(access_unit)
        .filter_map(|nal| {
            let body = nal.iter().position(|&b| b != 0).map(|i| &nal[i..])?;
            // Skip the start code's final 0x01.
            body.get(1).map(|b| b & 0x1f)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::video::y4m_io::tests::clip;
    use crate::media::video::{psnr_y, TestPatternSource, VideoSource};

    #[test]
    fn clip_round_trip_psnr() {
        let Some(frames) = clip() else { return };
        let mut enc = H264Encoder::new(320, 180, 15.0, 500_000).unwrap();
        let mut dec = H264Decoder::new().unwrap();
        let (mut bytes, mut decoded, mut psnr_sum, mut worst) = (0usize, 0usize, 0.0, 100.0f64);
        for (i, f) in frames.iter().enumerate() {
            let au = enc.encode(f).unwrap();
            if i == 0 {
                let types = nal_types(&au);
                assert!(types.contains(&5) && types.contains(&7), "{types:?}");
            }
            if au.is_empty() {
                continue;
            }
            bytes += au.len();
            let out = dec.decode(&au).unwrap().expect("a picture per AU");
            let p = psnr_y(f, &out);
            psnr_sum += p;
            worst = worst.min(p);
            decoded += 1;
        }
        let mean = psnr_sum / decoded as f64;
        let kbps = bytes as f64 * 8.0 / (frames.len() as f64 / 15.0) / 1000.0;
        println!(
            "decoded {decoded}/150, mean PSNR-Y {mean:.1} dB, worst {worst:.1}, {kbps:.0} kbit/s"
        );
        assert!(decoded >= 140);
        assert!(mean >= 30.0, "mean PSNR {mean}");
        assert!(kbps < 900.0, "{kbps} kbit/s");
    }

    #[test]
    fn keyframe_on_request_and_bitrate_change() {
        let mut src = TestPatternSource::new(160, 96, 30.0).unwrap();
        src.set_paced(false);
        let mut enc = H264Encoder::new(160, 96, 30.0, 300_000).unwrap();
        let mut types = Vec::new();
        for _ in 0..5 {
            types = nal_types(&enc.encode(&src.next_frame().unwrap()).unwrap());
        }
        assert!(!types.contains(&5), "{types:?}");
        enc.request_keyframe();
        let types = nal_types(&enc.encode(&src.next_frame().unwrap()).unwrap());
        assert!(types.contains(&5), "{types:?}");
        let types = nal_types(&enc.encode(&src.next_frame().unwrap()).unwrap());
        assert!(!types.contains(&5), "{types:?}");

        enc.set_bitrate(305_000);
        assert_eq!(enc.bitrate_bps(), 300_000);
        enc.set_bitrate(150_000);
        for _ in 0..20 {
            let types = nal_types(&enc.encode(&src.next_frame().unwrap()).unwrap());
            assert!(
                !types.contains(&5),
                "a bitrate change made an IDR: {types:?}"
            );
        }
        assert_eq!(enc.bitrate_bps(), 150_000);
    }

    /// kbit/s of the access units `sizes` (bytes) over frames [from, to), at
    /// 15 frames a second.
    fn kbps(sizes: &[usize], from: usize, to: usize) -> f64 {
        sizes[from..to].iter().sum::<usize>() as f64 * 8.0 / ((to - from) as f64 / 15.0) / 1e3
    }

    #[test]
    fn a_raised_bitrate_takes_effect_without_a_keyframe() {
        let Some(frames) = clip() else { return };
        let mut enc = H264Encoder::new(320, 180, 15.0, 60_000).unwrap();
        let mut sizes = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            if i == 35 {
                enc.set_bitrate(900_000);
            }
            let au = enc.encode(f).unwrap();
            if (36..60).contains(&i) {
                let types = nal_types(&au);
                assert!(
                    !types.contains(&5),
                    "frame {i}: raising made an IDR {types:?}"
                );
            }
            sizes.push(au.len());
        }
        let (before, after) = (kbps(&sizes, 5, 35), kbps(&sizes, 65, 150));
        println!("{before:.0} kbit/s at 60, {after:.0} kbit/s at 900");
        assert!(after > 1.5 * before, "{before} vs {after}");
    }

    #[test]
    fn a_live_bitrate_change_takes_effect() {
        let Some(frames) = clip() else { return };
        let mut enc = H264Encoder::new(320, 180, 15.0, 900_000).unwrap();
        let mut sizes = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            if i == 50 {
                enc.set_bitrate(60_000);
            }
            sizes.push(enc.encode(f).unwrap().len());
        }
        let (before, after) = (kbps(&sizes, 15, 50), kbps(&sizes, 80, 150));
        println!("{before:.0} kbit/s at 900, {after:.0} kbit/s at 60");
        assert!(after < 90.0, "{after} kbit/s after lowering to 60");
        assert!(before > 1.5 * after, "{before} vs {after}");
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(H264Encoder::new(161, 96, 30.0, 300_000).is_err());
        let mut enc = H264Encoder::new(160, 96, 30.0, 300_000).unwrap();
        let mut f = I420Frame::new_black(160, 96);
        f.data.pop();
        assert!(enc.encode(&f).is_err());
        let mut dec = H264Decoder::new().unwrap();
        let _ = dec.decode(&[0, 0, 0, 1, 0x65, 1, 2, 3]);
    }
}
