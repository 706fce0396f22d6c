//! WAV files: a looping, resampling file source and a crash-tolerant recorder.

use std::collections::VecDeque;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use hound::{SampleFormat, WavReader, WavSpec, WavWriter};

use super::resample::StreamResampler;
use super::{downmix, frame_pacer, AudioSource, FRAME_SAMPLES, SAMPLE_RATE_HZ};
use crate::media::pace::Pacer;
use crate::media::MediaError;

fn wav_err(path: &Path, e: hound::Error) -> MediaError {
    match e {
        hound::Error::IoError(source) => MediaError::io(path, source),
        other => MediaError::format(format!("{}: {other}", path.display())),
    }
}

fn open_reader(path: &Path) -> Result<WavReader<BufReader<File>>, MediaError> {
    let r = WavReader::open(path).map_err(|e| wav_err(path, e))?;
    let spec = r.spec();
    if spec.channels == 0 || spec.sample_rate == 0 {
        return Err(MediaError::format(format!("{}: {spec:?}", path.display())));
    }
    Ok(r)
}

/// An [`AudioSource`] over a WAV file of any rate, channel count and sample
/// format (8–32-bit integer or 32-bit float): mixed to mono, resampled to 48 kHz
/// while streaming, cut into 960-sample frames, paced at real time.
///
/// Looping restarts the file seamlessly (the resampler keeps running); without
/// it, the last frame is zero-padded and the next call returns
/// [`MediaError::EndOfStream`].
pub struct WavFileSource {
    path: PathBuf,
    reader: WavReader<BufReader<File>>,
    spec: WavSpec,
    looped: bool,
    resampler: StreamResampler,
    ready: VecDeque<f32>,
    read_this_pass: u64,
    done: bool,
    pacer: Pacer,
    scratch: Vec<f32>,
}

impl WavFileSource {
    /// Opens `path`; `looped` restarts at the beginning after the end.
    ///
    /// # Errors
    /// [`MediaError::Io`] if unreadable, [`MediaError::Format`] if not a WAV file
    /// hound can read.
    pub fn open(path: impl AsRef<Path>, looped: bool) -> Result<Self, MediaError> {
        let path = path.as_ref().to_path_buf();
        let reader = open_reader(&path)?;
        let spec = reader.spec();
        Ok(Self {
            resampler: StreamResampler::new(spec.sample_rate, SAMPLE_RATE_HZ)?,
            path,
            reader,
            spec,
            looped,
            ready: VecDeque::new(),
            read_this_pass: 0,
            done: false,
            pacer: frame_pacer(),
            scratch: Vec::new(),
        })
    }

    /// The file's own format.
    pub fn spec(&self) -> WavSpec {
        self.spec
    }

    /// Turns real-time pacing on (default) or off (frames as fast as decoded).
    pub fn set_paced(&mut self, paced: bool) {
        self.pacer.set_paced(paced);
    }

    /// Reads about 10 ms of the file; returns the number of interleaved samples.
    fn read_block(&mut self) -> Result<usize, MediaError> {
        let n = (self.spec.sample_rate as usize / 100).max(1) * self.spec.channels as usize;
        self.scratch.clear();
        match self.spec.sample_format {
            SampleFormat::Float => {
                for s in self.reader.samples::<f32>().take(n) {
                    self.scratch.push(s.map_err(|e| wav_err(&self.path, e))?);
                }
            }
            SampleFormat::Int => {
                let scale = 1.0 / (1u64 << (self.spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
                for s in self.reader.samples::<i32>().take(n) {
                    self.scratch
                        .push(s.map_err(|e| wav_err(&self.path, e))? as f32 * scale);
                }
            }
        }
        Ok(self.scratch.len())
    }

    fn fill(&mut self) -> Result<(), MediaError> {
        let mut out = Vec::new();
        while self.ready.len() < FRAME_SAMPLES && !self.done {
            out.clear();
            if self.read_block()? == 0 {
                if self.looped && self.read_this_pass > 0 {
                    self.reader = open_reader(&self.path)?;
                    self.read_this_pass = 0;
                    continue;
                }
                self.resampler.flush(&mut out)?;
                self.done = true;
            } else {
                self.read_this_pass += self.scratch.len() as u64;
                let mono = downmix(&self.scratch, self.spec.channels as usize);
                self.resampler.process(&mono, &mut out)?;
            }
            self.ready.extend(out.iter().copied());
        }
        Ok(())
    }
}

impl AudioSource for WavFileSource {
    fn next_frame(&mut self) -> Result<Vec<f32>, MediaError> {
        self.fill()?;
        if self.ready.is_empty() {
            return Err(MediaError::EndOfStream);
        }
        let take = self.ready.len().min(FRAME_SAMPLES);
        let mut frame: Vec<f32> = self.ready.drain(..take).collect();
        frame.resize(FRAME_SAMPLES, 0.0);
        self.pacer.wait();
        Ok(frame)
    }
}

/// A sink writing 48 kHz mono 16-bit PCM WAV.
///
/// The header is written at creation and brought up to date at least every
/// [`WavRecorder::FLUSH_EVERY_SAMPLES`] samples, so a killed process leaves a valid
/// file holding all but the last ≤ 500 ms.
pub struct WavRecorder {
    path: PathBuf,
    writer: Option<WavWriter<std::io::BufWriter<File>>>,
    unflushed: usize,
    written: u64,
}

impl WavRecorder {
    /// Samples (500 ms at 48 kHz) between header updates.
    pub const FLUSH_EVERY_SAMPLES: usize = 24_000;

    /// Creates (truncates) `path` and writes a valid, empty WAV header.
    ///
    /// # Errors
    /// [`MediaError::Io`] if the file cannot be created.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, MediaError> {
        let path = path.as_ref().to_path_buf();
        let spec = WavSpec {
            channels: 1,
            sample_rate: SAMPLE_RATE_HZ,
            bits_per_sample: 16,
            sample_format: SampleFormat::Int,
        };
        let mut writer = WavWriter::create(&path, spec).map_err(|e| wav_err(&path, e))?;
        writer.flush().map_err(|e| wav_err(&path, e))?;
        Ok(Self {
            path,
            writer: Some(writer),
            unflushed: 0,
            written: 0,
        })
    }

    /// Samples written so far.
    pub fn samples_written(&self) -> u64 {
        self.written
    }

    /// Appends mono 48 kHz samples (clamped to −1.0..=1.0).
    ///
    /// # Errors
    /// [`MediaError::Io`] on write failure; [`MediaError::Invalid`] after
    /// [`finish`](Self::finish).
    pub fn write(&mut self, samples: &[f32]) -> Result<(), MediaError> {
        let w = self
            .writer
            .as_mut()
            .ok_or_else(|| MediaError::Invalid("WAV recorder already finished".into()))?;
        for &s in samples {
            let v = (s.clamp(-1.0, 1.0) * 32767.0).round() as i16;
            w.write_sample(v).map_err(|e| wav_err(&self.path, e))?;
        }
        self.written += samples.len() as u64;
        self.unflushed += samples.len();
        if self.unflushed >= Self::FLUSH_EVERY_SAMPLES {
            w.flush().map_err(|e| wav_err(&self.path, e))?;
            self.unflushed = 0;
        }
        Ok(())
    }

    /// Writes the final header and closes the file. Calling it again is harmless.
    ///
    /// # Errors
    /// [`MediaError::Io`] if the final write fails.
    pub fn finish(&mut self) -> Result<(), MediaError> {
        match self.writer.take() {
            Some(w) => w.finalize().map_err(|e| wav_err(&self.path, e)),
            None => Ok(()),
        }
    }
}

impl Drop for WavRecorder {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// Reads a whole WAV file as mono 48 kHz (tests, benchmarks).
#[cfg(test)]
pub(crate) fn read_wav_48k(path: &Path) -> Result<Vec<f32>, MediaError> {
    let mut src = WavFileSource::open(path, false)?;
    src.set_paced(false);
    let mut all = Vec::new();
    loop {
        match src.next_frame() {
            Ok(f) => all.extend(f),
            Err(MediaError::EndOfStream) => return Ok(all),
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const JFK: &str = "/work/shared/media/jfk.wav";

    #[test]
    fn jfk_resamples_to_48k() {
        if !Path::new(JFK).exists() {
            println!("skipping: {JFK} absent");
            return;
        }
        let n16 = WavReader::open(JFK).unwrap().duration() as usize;
        let src = WavFileSource::open(JFK, false).unwrap();
        assert_eq!(src.spec().sample_rate, 16_000);
        let all = read_wav_48k(Path::new(JFK)).unwrap();
        assert_eq!(all.len(), (n16 * 3).div_ceil(FRAME_SAMPLES) * FRAME_SAMPLES);
        assert!(all.iter().any(|s| s.abs() > 0.1));
    }

    #[test]
    fn stereo_float_loops() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("st.wav");
        let spec = WavSpec {
            channels: 2,
            sample_rate: 48_000,
            bits_per_sample: 32,
            sample_format: SampleFormat::Float,
        };
        let mut w = WavWriter::create(&p, spec).unwrap();
        for i in 0..1000 {
            w.write_sample(i as f32 / 1000.0).unwrap();
            w.write_sample(0.0f32).unwrap();
        }
        w.finalize().unwrap();
        let mut src = WavFileSource::open(&p, true).unwrap();
        src.set_paced(false);
        let a = src.next_frame().unwrap();
        let b = src.next_frame().unwrap();
        assert!((a[10] - 0.005).abs() < 1e-6);
        // 1000 samples a pass: frame 2 sample 40 is the loop's sample 0 + 0.
        assert!((b[39] - 0.4995).abs() < 1e-6 && b[40].abs() < 1e-6);
        let mut once = WavFileSource::open(&p, false).unwrap();
        once.set_paced(false);
        once.next_frame().unwrap();
        assert!(once.next_frame().unwrap()[100..].iter().all(|&s| s == 0.0));
        assert!(matches!(once.next_frame(), Err(MediaError::EndOfStream)));
    }

    #[test]
    fn recorder_round_trip_and_kill_safety() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rec.wav");
        let mut rec = WavRecorder::create(&p).unwrap();
        let tone: Vec<f32> = (0..48_000)
            .map(|i| ((i % 100) as f32 / 100.0) - 0.5)
            .collect();
        rec.write(&tone).unwrap();
        // A "killed" process: the header was updated at the last periodic flush.
        let partial = WavReader::open(&p).unwrap();
        assert!(partial.duration() >= 24_000);
        drop(partial);
        rec.finish().unwrap();
        assert!(rec.write(&tone).is_err());
        let mut r = WavReader::open(&p).unwrap();
        assert_eq!(r.spec().sample_rate, 48_000);
        let back: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
        assert_eq!(back.len(), 48_000);
        assert!(back
            .iter()
            .zip(&tone)
            .all(|(&b, &t)| (f32::from(b) / 32767.0 - t).abs() < 1e-4));
    }
}
