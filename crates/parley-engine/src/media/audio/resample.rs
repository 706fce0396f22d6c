//! A streaming mono resampler over rubato, delay-compensated.

use rubato::{FftFixedInOut, Resampler};

use crate::media::MediaError;

/// Resamples a mono stream fed in pieces of any length.
///
/// The filter delay is removed: output sample `n` lines up with input time
/// `n / rate_out`, and after [`flush`](Self::flush) exactly
/// `round(total_in × rate_out / rate_in)` samples have come out. Equal rates
/// pass samples through untouched.
pub struct StreamResampler {
    inner: Option<FftFixedInOut<f32>>,
    rate_in: u32,
    rate_out: u32,
    pending: Vec<f32>,
    delay_left: usize,
    total_in: u64,
    total_out: u64,
    out_buf: Vec<Vec<f32>>,
}

impl StreamResampler {
    /// A resampler from `rate_in_hz` to `rate_out_hz`, in blocks of about 10 ms.
    ///
    /// # Errors
    /// [`MediaError::Invalid`] for a zero rate; [`MediaError::Codec`] if rubato
    /// refuses the ratio.
    pub fn new(rate_in_hz: u32, rate_out_hz: u32) -> Result<Self, MediaError> {
        if rate_in_hz == 0 || rate_out_hz == 0 {
            return Err(MediaError::Invalid(format!(
                "resample {rate_in_hz} Hz → {rate_out_hz} Hz"
            )));
        }
        let inner = if rate_in_hz == rate_out_hz {
            None
        } else {
            let chunk = (rate_in_hz as usize / 100).max(1);
            Some(
                FftFixedInOut::<f32>::new(rate_in_hz as usize, rate_out_hz as usize, chunk, 1)
                    .map_err(|e| MediaError::Codec(format!("resampler: {e}")))?,
            )
        };
        let delay_left = inner.as_ref().map_or(0, |r| r.output_delay());
        let out_buf = inner
            .as_ref()
            .map_or_else(Vec::new, |r| r.output_buffer_allocate(true));
        Ok(Self {
            inner,
            rate_in: rate_in_hz,
            rate_out: rate_out_hz,
            pending: Vec::new(),
            delay_left,
            total_in: 0,
            total_out: 0,
            out_buf,
        })
    }

    /// Input rate, Hz.
    pub fn rate_in_hz(&self) -> u32 {
        self.rate_in
    }

    /// Output rate, Hz.
    pub fn rate_out_hz(&self) -> u32 {
        self.rate_out
    }

    /// Feeds `input` and appends whatever output is ready to `out`.
    ///
    /// # Errors
    /// [`MediaError::Codec`] if rubato fails (it does not for valid buffers).
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<(), MediaError> {
        self.total_in += input.len() as u64;
        let Some(r) = self.inner.as_mut() else {
            out.extend_from_slice(input);
            self.total_out += input.len() as u64;
            return Ok(());
        };
        self.pending.extend_from_slice(input);
        let mut used = 0;
        while self.pending.len() - used >= r.input_frames_next() {
            let n_in = r.input_frames_next();
            let (_, n_out) = r
                .process_into_buffer(&[&self.pending[used..used + n_in]], &mut self.out_buf, None)
                .map_err(|e| MediaError::Codec(format!("resampler: {e}")))?;
            used += n_in;
            let produced = &self.out_buf[0][..n_out];
            let skip = self.delay_left.min(produced.len());
            self.delay_left -= skip;
            out.extend_from_slice(&produced[skip..]);
            self.total_out += (produced.len() - skip) as u64;
        }
        self.pending.drain(..used);
        Ok(())
    }

    /// Ends the stream: pushes zeros through the filter and appends the remaining
    /// output, so the total output length is exactly `round(total_in × ratio)`.
    ///
    /// # Errors
    /// As [`process`](Self::process).
    pub fn flush(&mut self, out: &mut Vec<f32>) -> Result<(), MediaError> {
        let want = (self.total_in * u64::from(self.rate_out) + u64::from(self.rate_in) / 2)
            / u64::from(self.rate_in);
        let Some(chunk) = self.inner.as_ref().map(|r| r.input_frames_next()) else {
            return Ok(());
        };
        let zeros = vec![0.0; chunk];
        let mut scratch = Vec::new();
        while self.total_out < want {
            let before = self.total_out;
            scratch.clear();
            self.process(&zeros, &mut scratch)?;
            self.total_in -= chunk as u64;
            let take = ((want - before) as usize).min(scratch.len());
            out.extend_from_slice(&scratch[..take]);
            self.total_out = before + take as u64;
        }
        Ok(())
    }
}

/// Resamples a whole mono signal (convenience over [`StreamResampler`]).
///
/// # Errors
/// As [`StreamResampler::new`].
pub fn resample_all(
    input: &[f32],
    rate_in_hz: u32,
    rate_out_hz: u32,
) -> Result<Vec<f32>, MediaError> {
    let mut r = StreamResampler::new(rate_in_hz, rate_out_hz)?;
    let mut out = Vec::with_capacity(input.len() * rate_out_hz as usize / rate_in_hz as usize + 1);
    r.process(input, &mut out)?;
    r.flush(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, hz: f32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (std::f32::consts::TAU * hz * i as f32 / rate as f32).sin())
            .collect()
    }

    #[test]
    fn sixteen_to_48k_triples_length_and_stays_aligned() {
        let input = sine(16_000, 440.0, 16_000 + 123);
        let out = resample_all(&input, 16_000, 48_000).unwrap();
        assert_eq!(out.len(), input.len() * 3);
        // Delay compensated: compare to the ideal 48 kHz sine away from the edges.
        let ideal = sine(48_000, 440.0, out.len());
        let err = out[2000..40_000]
            .iter()
            .zip(&ideal[2000..40_000])
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(err < 0.05, "max error {err}");
    }

    #[test]
    fn streaming_in_odd_pieces_matches_lengths() {
        let input = sine(44_100, 1000.0, 44_100);
        let mut r = StreamResampler::new(44_100, 48_000).unwrap();
        let mut out = Vec::new();
        for piece in input.chunks(333) {
            r.process(piece, &mut out).unwrap();
        }
        r.flush(&mut out).unwrap();
        assert_eq!(out.len(), 48_000);
        let passthrough = resample_all(&input[..100], 48_000, 48_000).unwrap();
        assert_eq!(passthrough, input[..100]);
        assert!(StreamResampler::new(0, 48_000).is_err());
    }
}
