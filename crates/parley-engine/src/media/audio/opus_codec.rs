//! Opus over libopus: 48 kHz mono, 20 ms frames, loss concealment.

use opus::{Application, Bitrate, Channels};

use super::{FRAME_SAMPLES, SAMPLE_RATE_HZ};
use crate::media::MediaError;

fn codec_err(what: &str, e: opus::Error) -> MediaError {
    MediaError::Codec(format!("opus {what}: {e}"))
}

/// Largest Opus packet we produce, bytes (RFC 6716 allows 1275 per frame).
const MAX_PACKET_BYTES: usize = 1500;

/// An Opus encoder for 48 kHz mono speech (`Application::Voip`, in-band FEC on,
/// tuned for 5 % loss until told the real figure).
pub struct OpusEncoder {
    inner: opus::Encoder,
}

impl OpusEncoder {
    /// An encoder targeting `bitrate_bps` bits per second (6 000–510 000;
    /// 24 000–32 000 suits speech).
    ///
    /// # Errors
    /// [`MediaError::Codec`] if libopus refuses the settings.
    pub fn new(bitrate_bps: u32) -> Result<Self, MediaError> {
        let inner = opus::Encoder::new(SAMPLE_RATE_HZ, Channels::Mono, Application::Voip)
            .map_err(|e| codec_err("encoder init", e))?;
        let mut enc = Self { inner };
        enc.set_bitrate(bitrate_bps)?;
        enc.inner
            .set_inband_fec(true)
            .map_err(|e| codec_err("fec", e))?;
        enc.inner
            .set_packet_loss_perc(5)
            .map_err(|e| codec_err("loss", e))?;
        Ok(enc)
    }

    /// Turns in-band FEC (RFC 6716 §2.1.7: each packet carries a coarse copy of
    /// the one before, which the receiver decodes when that one is lost) on or
    /// off. On by default.
    ///
    /// # Errors
    /// [`MediaError::Codec`] if libopus refuses.
    pub fn set_fec(&mut self, on: bool) -> Result<(), MediaError> {
        self.inner
            .set_inband_fec(on)
            .map_err(|e| codec_err("fec", e))
    }

    /// Tells the encoder how many packets the receiver loses, percent (0–100):
    /// in-band FEC spends more bits the more is lost, none at 0 (RFC 6716
    /// §2.1.7; the figure comes from the receiver's RTCP reports, RFC 3550
    /// §6.4.2 "fraction lost").
    ///
    /// # Errors
    /// [`MediaError::Codec`] if libopus refuses.
    pub fn set_packet_loss_pct(&mut self, pct: u8) -> Result<(), MediaError> {
        self.inner
            .set_packet_loss_perc(i32::from(pct.min(100)))
            .map_err(|e| codec_err("loss", e))
    }

    /// Turns discontinuous transmission on or off: in silence the encoder then
    /// makes packets of one or two bytes (RFC 6716 §2.1.9) that the receiver
    /// decodes as comfort noise. Off by default.
    ///
    /// # Errors
    /// [`MediaError::Codec`] if libopus refuses.
    pub fn set_dtx(&mut self, on: bool) -> Result<(), MediaError> {
        self.inner.set_dtx(on).map_err(|e| codec_err("dtx", e))
    }

    /// Changes the target bitrate, bits per second (clamped to 6 000–510 000).
    ///
    /// # Errors
    /// [`MediaError::Codec`] if libopus refuses.
    pub fn set_bitrate(&mut self, bitrate_bps: u32) -> Result<(), MediaError> {
        let bps = bitrate_bps.clamp(6_000, 510_000) as i32;
        self.inner
            .set_bitrate(Bitrate::Bits(bps))
            .map_err(|e| codec_err("bitrate", e))
    }

    /// Encodes one 20 ms frame of exactly [`FRAME_SAMPLES`] mono samples into one
    /// Opus packet (a few tens of bytes for speech).
    ///
    /// # Errors
    /// [`MediaError::Invalid`] for another frame length; [`MediaError::Codec`] if
    /// libopus fails.
    pub fn encode(&mut self, frame: &[f32]) -> Result<Vec<u8>, MediaError> {
        if frame.len() != FRAME_SAMPLES {
            return Err(MediaError::Invalid(format!(
                "Opus frame must be {FRAME_SAMPLES} samples, got {}",
                frame.len()
            )));
        }
        self.inner
            .encode_vec_float(frame, MAX_PACKET_BYTES)
            .map_err(|e| codec_err("encode", e))
    }

    /// Codec delay in samples at 48 kHz: how much later the input appears in the
    /// decoder's output.
    pub fn lookahead_samples(&mut self) -> usize {
        self.inner
            .get_lookahead()
            .map_or(312, |n| n.max(0) as usize)
    }
}

/// Whether an Opus packet carries in-band FEC data for the packet before it
/// (RFC 6716 §4.2.4: the LBRR flag of its first SILK frame; as libwebrtc's
/// `WebRtcOpus_PacketHasFec`). CELT-only packets and code 3 packets
/// (RFC 6716 §3.2.5) are reported as without.
pub fn opus_has_fec(packet: &[u8]) -> bool {
    let Some(&toc) = packet.first() else {
        return false;
    };
    let config = toc >> 3;
    // SILK-only configs 0–11 last 10/20/40/60 ms by config % 4; hybrid 12–15
    // 10/20 ms by config % 2; 16 and up are CELT-only, without FEC.
    let silk_frames: u32 = match config {
        0..=11 => [1, 1, 2, 3][usize::from(config % 4)],
        12..=15 => 1,
        _ => return false,
    };
    // The first frame's data (RFC 6716 §3.2): code 0 one frame, code 1 two of
    // equal size, code 2 two with the first's length in one or two bytes.
    let first = match toc & 0x3 {
        0 | 1 => packet.get(1..),
        2 => match packet.get(1) {
            Some(&n) if n < 252 => packet.get(2..),
            Some(_) => packet.get(3..),
            None => None,
        },
        _ => None,
    };
    let Some(&silk) = first.and_then(|f| f.first()) else {
        return false;
    };
    // One byte is a DTX frame: nothing in it.
    if first.is_some_and(|f| f.len() <= 1) && toc & 0x3 == 0 {
        return false;
    }
    let channels = if toc & 0x4 != 0 { 2 } else { 1 };
    (0..channels).any(|n| silk & (0x80 >> ((n + 1) * (silk_frames + 1) - 1)) != 0)
}

/// An Opus decoder producing 48 kHz mono frames, with packet loss concealment.
pub struct OpusDecoder {
    inner: opus::Decoder,
    buf: Vec<f32>,
}

impl OpusDecoder {
    /// A decoder for 48 kHz mono output.
    ///
    /// # Errors
    /// [`MediaError::Codec`] if libopus fails to initialise.
    pub fn new() -> Result<Self, MediaError> {
        Ok(Self {
            inner: opus::Decoder::new(SAMPLE_RATE_HZ, Channels::Mono)
                .map_err(|e| codec_err("decoder init", e))?,
            // Room for the longest Opus packet: 120 ms.
            buf: vec![0.0; SAMPLE_RATE_HZ as usize * 120 / 1000],
        })
    }

    /// Decodes one packet; `None` means the packet was lost and conceals 20 ms
    /// (PLC). Returns the decoded samples: [`FRAME_SAMPLES`] for our 20 ms packets
    /// (other peers' packets may hold 2.5–120 ms).
    ///
    /// # Errors
    /// [`MediaError::Codec`] for a corrupt packet (then call again with `None`).
    pub fn decode(&mut self, packet: Option<&[u8]>) -> Result<Vec<f32>, MediaError> {
        let n = match packet {
            Some(p) if !p.is_empty() => self.inner.decode_float(p, &mut self.buf, false),
            _ => self
                .inner
                .decode_float(&[], &mut self.buf[..FRAME_SAMPLES], false),
        }
        .map_err(|e| codec_err("decode", e))?;
        Ok(self.buf[..n].to_vec())
    }

    /// Recovers a lost 20 ms packet from the in-band FEC data of `next`, the
    /// packet that followed it (RFC 6716 §2.1.7); [`FRAME_SAMPLES`] samples.
    /// Without FEC data in `next` libopus conceals instead, as
    /// [`decode`](Self::decode) with `None` does.
    ///
    /// # Errors
    /// [`MediaError::Codec`] for a corrupt packet.
    pub fn decode_fec(&mut self, next: &[u8]) -> Result<Vec<f32>, MediaError> {
        let n = self
            .inner
            .decode_float(next, &mut self.buf[..FRAME_SAMPLES], true)
            .map_err(|e| codec_err("decode fec", e))?;
        Ok(self.buf[..n].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::audio::normalized_xcorr_best;
    use crate::media::audio::wav::{read_wav_48k, tests::JFK};
    use std::path::Path;

    #[test]
    fn jfk_round_trip_correlates() {
        if !Path::new(JFK).exists() {
            println!("skipping: {JFK} absent");
            return;
        }
        let input = read_wav_48k(Path::new(JFK)).unwrap();
        let mut enc = OpusEncoder::new(32_000).unwrap();
        let mut dec = OpusDecoder::new().unwrap();
        let delay = enc.lookahead_samples();
        let (mut out, mut bytes) = (Vec::new(), 0);
        for frame in input.chunks_exact(FRAME_SAMPLES) {
            let pkt = enc.encode(frame).unwrap();
            bytes += pkt.len();
            out.extend(dec.decode(Some(&pkt)).unwrap());
        }
        assert_eq!(out.len(), input.len());
        // Align the codec delay, then correlate.
        let aligned = &out[delay..];
        let (ncc, lag) = normalized_xcorr_best(&input[..aligned.len()], aligned, 2000);
        let kbps = bytes as f64 * 8.0 / (input.len() as f64 / 48_000.0) / 1000.0;
        println!("opus: delay {delay}, NCC {ncc:.3} at lag {lag}, {kbps:.1} kbit/s");
        assert!(ncc >= 0.8, "NCC {ncc}");
        // The lookahead is the nominal delay; the exact one differs by a few samples.
        assert!(lag.abs() <= 10, "lag {lag}");
    }

    /// Speech with every fifth packet lost: recovering each from the next
    /// packet's FEC data sounds more like the source than concealment does.
    #[test]
    fn fec_recovers_lost_speech_better_than_concealment() {
        if !Path::new(JFK).exists() {
            println!("skipping: {JFK} absent");
            return;
        }
        let input = read_wav_48k(Path::new(JFK)).unwrap();
        let mut enc = OpusEncoder::new(32_000).unwrap();
        enc.set_packet_loss_pct(20).unwrap();
        let packets: Vec<Vec<u8>> = input
            .chunks_exact(FRAME_SAMPLES)
            .map(|f| enc.encode(f).unwrap())
            .collect();
        let play = |fec: bool| {
            let mut dec = OpusDecoder::new().unwrap();
            let mut out = Vec::new();
            for (i, p) in packets.iter().enumerate() {
                let lost = i % 5 == 2;
                out.extend(match (lost, packets.get(i + 1)) {
                    (true, Some(next)) if fec => dec.decode_fec(next).unwrap(),
                    (true, _) => dec.decode(None).unwrap(),
                    (false, _) => dec.decode(Some(p)).unwrap(),
                });
            }
            let delay = enc_delay();
            normalized_xcorr_best(&input[..out.len() - delay], &out[delay..], 2000).0
        };
        let (with_fec, without) = (play(true), play(false));
        println!("20 % loss: correlation {with_fec:.3} with FEC, {without:.3} without");
        assert!(with_fec > without + 0.02, "{with_fec} vs {without}");
    }

    #[test]
    fn dtx_sends_tiny_packets_in_silence() {
        let silence = vec![0.0f32; FRAME_SAMPLES];
        // Of the last 25 of 50 silent frames, how many are DTX's 1–2 bytes
        // (one in 20 is a full comfort-noise update).
        let tiny = |dtx: bool| {
            let mut enc = OpusEncoder::new(32_000).unwrap();
            enc.set_dtx(dtx).unwrap();
            (0..50)
                .map(|_| enc.encode(&silence).unwrap().len())
                .skip(25)
                .filter(|&n| n <= 2)
                .count()
        };
        let (on, off) = (tiny(true), tiny(false));
        println!("tiny packets in 25 frames of silence: {on} with DTX, {off} without");
        assert!(on >= 20, "{on} with DTX");
        assert_eq!(off, 0, "without DTX");
    }

    #[test]
    fn fec_is_seen_in_packets_that_carry_it() {
        let speech: Vec<f32> = (0..FRAME_SAMPLES * 20)
            .map(|i| ((i as f32 * 0.05).sin() * (i as f32 * 0.0007).sin()) * 0.5)
            .collect();
        let count = |loss: u8, fec: bool| {
            let mut enc = OpusEncoder::new(32_000).unwrap();
            enc.set_fec(fec).unwrap();
            enc.set_packet_loss_pct(loss).unwrap();
            speech
                .chunks_exact(FRAME_SAMPLES)
                .map(|f| enc.encode(f).unwrap())
                .filter(|p| opus_has_fec(p))
                .count()
        };
        assert!(count(10, true) >= 15, "{}", count(10, true));
        assert_eq!(count(10, false), 0);
        assert_eq!(count(0, true), 0, "libopus adds none at 0 % loss");
        assert!(!opus_has_fec(&[]) && !opus_has_fec(&[0x08]) && !opus_has_fec(&[0xfc, 0xff]));
    }

    fn enc_delay() -> usize {
        OpusEncoder::new(32_000).unwrap().lookahead_samples()
    }

    #[test]
    fn loss_is_concealed_and_bad_input_is_an_error() {
        let mut enc = OpusEncoder::new(24_000).unwrap();
        let mut dec = OpusDecoder::new().unwrap();
        let tone: Vec<f32> = (0..FRAME_SAMPLES)
            .map(|i| (i as f32 * 0.1).sin() * 0.5)
            .collect();
        for _ in 0..5 {
            let p = enc.encode(&tone).unwrap();
            assert_eq!(dec.decode(Some(&p)).unwrap().len(), FRAME_SAMPLES);
        }
        let plc = dec.decode(None).unwrap();
        assert_eq!(plc.len(), FRAME_SAMPLES);
        assert!(plc.iter().any(|s| s.abs() > 0.01), "PLC continues the tone");
        assert!(enc.encode(&tone[..100]).is_err());
        assert!(dec.decode(Some(&[0xff; 3])).is_err());
    }
}
