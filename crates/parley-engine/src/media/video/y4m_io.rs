//! YUV4MPEG2 files: a looping file source, a crash-tolerant recorder, a reader.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{I420Frame, VideoSource};
use crate::media::pace::Pacer;
use crate::media::{monotonic_us, MediaError};

type Decoder = y4m::Decoder<BufReader<File>>;

fn open_decoder(path: &Path) -> Result<Decoder, MediaError> {
    let file = File::open(path).map_err(|e| MediaError::io(path, e))?;
    let dec = y4m::Decoder::new(BufReader::new(file)).map_err(|e| y4m_err(path, e))?;
    match dec.get_colorspace() {
        y4m::Colorspace::C420
        | y4m::Colorspace::C420jpeg
        | y4m::Colorspace::C420paldv
        | y4m::Colorspace::C420mpeg2 => {}
        other => {
            return Err(MediaError::format(format!(
                "{}: colorspace {other:?} unsupported (need 8-bit 4:2:0)",
                path.display()
            )))
        }
    }
    Ok(dec)
}

fn y4m_err(path: &Path, e: y4m::Error) -> MediaError {
    match e {
        y4m::Error::EOF => MediaError::EndOfStream,
        y4m::Error::IoError(source) => MediaError::io(path, source),
        other => MediaError::format(format!("{}: {other}", path.display())),
    }
}

fn read_frame(dec: &mut Decoder, path: &Path) -> Result<I420Frame, MediaError> {
    let (w, h) = (dec.get_width() as u32, dec.get_height() as u32);
    let frame = dec.read_frame().map_err(|e| y4m_err(path, e))?;
    let mut data = Vec::with_capacity(I420Frame::byte_len(w, h));
    data.extend_from_slice(frame.get_y_plane());
    data.extend_from_slice(frame.get_u_plane());
    data.extend_from_slice(frame.get_v_plane());
    I420Frame::from_data(w, h, data, monotonic_us())
}

/// A [`VideoSource`] reading a YUV4MPEG2 file (8-bit 4:2:0), paced at the file's
/// frame rate, optionally looping (the file is reopened at its end).
pub struct Y4mFileSource {
    path: PathBuf,
    dec: Decoder,
    looped: bool,
    width: u32,
    height: u32,
    fps: f64,
    pacer: Pacer,
}

impl Y4mFileSource {
    /// Opens `path`; `looped` restarts at the first frame after the last one.
    ///
    /// # Errors
    /// [`MediaError::Io`] if unreadable, [`MediaError::Format`] for a bad header or
    /// a colorspace other than 8-bit 4:2:0.
    pub fn open(path: impl AsRef<Path>, looped: bool) -> Result<Self, MediaError> {
        let path = path.as_ref().to_path_buf();
        let dec = open_decoder(&path)?;
        let rate = dec.get_framerate();
        let fps = if rate.num > 0 && rate.den > 0 {
            rate.num as f64 / rate.den as f64
        } else {
            30.0
        };
        let (width, height) = (dec.get_width() as u32, dec.get_height() as u32);
        Ok(Self {
            path,
            dec,
            looped,
            width,
            height,
            fps,
            pacer: Pacer::new(Duration::from_secs_f64(1.0 / fps), true),
        })
    }

    /// Turns real-time pacing on (default) or off (frames as fast as read; tests).
    pub fn set_paced(&mut self, paced: bool) {
        self.pacer.set_paced(paced);
    }
}

impl VideoSource for Y4mFileSource {
    fn width(&self) -> u32 {
        self.width
    }
    fn height(&self) -> u32 {
        self.height
    }
    fn fps(&self) -> f64 {
        self.fps
    }
    fn next_frame(&mut self) -> Result<I420Frame, MediaError> {
        self.pacer.wait();
        match read_frame(&mut self.dec, &self.path) {
            Err(MediaError::EndOfStream) if self.looped => {
                self.dec = open_decoder(&self.path)?;
                read_frame(&mut self.dec, &self.path)
            }
            other => other,
        }
        .map(|mut f| {
            f.capture_us = monotonic_us();
            f
        })
    }
}

/// Reads every frame of a Y4M file into memory (tests, benchmarks).
///
/// # Errors
/// As [`Y4mFileSource::open`], plus a truncated frame.
pub fn read_y4m_all(path: impl AsRef<Path>) -> Result<Vec<I420Frame>, MediaError> {
    let path = path.as_ref();
    let mut dec = open_decoder(path)?;
    let mut frames = Vec::new();
    loop {
        match read_frame(&mut dec, path) {
            Ok(f) => frames.push(f),
            Err(MediaError::EndOfStream) => return Ok(frames),
            Err(e) => return Err(e),
        }
    }
}

/// A sink writing I420 frames to a YUV4MPEG2 file
/// (`YUV4MPEG2 W<w> H<h> F<fps>:1 Ip A1:1 C420jpeg`).
///
/// The header is written with the first frame (its dimensions fix the file's);
/// every frame is flushed to the OS, so a killed process leaves a readable file of
/// the frames written so far. A recorder that got no frame at all removes its
/// file when finished or dropped: an empty file is no valid Y4M.
pub struct Y4mRecorder {
    path: PathBuf,
    fps: u32,
    out: Option<BufWriter<File>>,
    file: Option<File>,
    dims: Option<(u32, u32)>,
    frames: u64,
    finished: bool,
    /// The path is a regular file (not /dev/null, a pipe or a terminal), which may
    /// be removed when nothing was written.
    removable: bool,
}

impl Y4mRecorder {
    /// Creates (truncates) `path`, so a path that cannot be written fails now;
    /// `fps` is the frame rate in Hz stated in the header.
    ///
    /// # Errors
    /// [`MediaError::Io`] if the file cannot be created; [`MediaError::Invalid`] if
    /// `fps` is 0.
    pub fn create(path: impl AsRef<Path>, fps: u32) -> Result<Self, MediaError> {
        let path = path.as_ref().to_path_buf();
        if fps == 0 {
            return Err(MediaError::Invalid("Y4M frame rate must be > 0".into()));
        }
        let file = File::create(&path).map_err(|e| MediaError::io(&path, e))?;
        let removable = file.metadata().is_ok_and(|m| m.is_file());
        Ok(Self {
            path,
            fps,
            out: None,
            file: Some(file),
            dims: None,
            frames: 0,
            finished: false,
            removable,
        })
    }

    /// Frames written so far.
    pub fn frames_written(&self) -> u64 {
        self.frames
    }

    /// Appends one frame and flushes it; a frame whose size differs from the
    /// first frame's is scaled to it (bilinear).
    ///
    /// # Errors
    /// [`MediaError::Io`] on write failure.
    pub fn write(&mut self, frame: &I420Frame) -> Result<(), MediaError> {
        let io = |e| MediaError::io(&self.path, e);
        if let Some(file) = self.file.take() {
            let mut out = BufWriter::new(file);
            writeln!(
                out,
                "YUV4MPEG2 W{} H{} F{}:1 Ip A1:1 C420jpeg",
                frame.width, frame.height, self.fps
            )
            .map_err(io)?;
            self.out = Some(out);
            self.dims = Some((frame.width, frame.height));
        }
        // A sender that scales its picture (at a low bitrate) does not
        // change the recording: the frame is scaled to the recording's size.
        let scaled;
        let frame = match self.dims {
            Some((w, h)) if (w, h) != (frame.width, frame.height) => {
                scaled = super::scale(frame, w, h);
                &scaled
            }
            _ => frame,
        };
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| MediaError::Invalid("recorder already finished".into()))?;
        out.write_all(b"FRAME\n").map_err(io)?;
        out.write_all(&frame.data).map_err(io)?;
        out.flush().map_err(io)?;
        self.frames += 1;
        Ok(())
    }

    /// Flushes and closes the file, or removes it when no frame was written (so
    /// no file at the path afterwards means nothing arrived; a path that is not a
    /// regular file, such as /dev/null, is left alone). Calling it again is
    /// harmless.
    ///
    /// # Errors
    /// [`MediaError::Io`] if the final flush or the removal fails.
    pub fn finish(&mut self) -> Result<(), MediaError> {
        if std::mem::replace(&mut self.finished, true) {
            return Ok(());
        }
        self.file = None;
        if self.frames == 0 && self.removable {
            self.out = None;
            tracing::debug!("no frame for {}: file removed", self.path.display());
            return match std::fs::remove_file(&self.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(MediaError::io(&self.path, e))
                }
                _ => Ok(()),
            };
        }
        if let Some(mut out) = self.out.take() {
            out.flush().map_err(|e| MediaError::io(&self.path, e))?;
            out.get_ref()
                .sync_data()
                .map_err(|e| MediaError::io(&self.path, e))?;
        }
        Ok(())
    }
}

impl Drop for Y4mRecorder {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const CLIP: &str = "/work/shared/media/chrome-320x180-15fps.y4m";

    pub(crate) fn clip() -> Option<Vec<I420Frame>> {
        if !Path::new(CLIP).exists() {
            println!("skipping: {CLIP} absent");
            return None;
        }
        Some(read_y4m_all(CLIP).expect("read clip"))
    }

    #[test]
    fn reads_shared_clip() {
        let Some(frames) = clip() else { return };
        assert_eq!(frames.len(), 150);
        assert!(frames
            .iter()
            .all(|f| (f.width, f.height, f.data.len()) == (320, 180, 320 * 180 * 3 / 2)));
    }

    #[test]
    fn source_loops_and_ends() {
        if !Path::new(CLIP).exists() {
            println!("skipping: {CLIP} absent");
            return;
        }
        let mut once = Y4mFileSource::open(CLIP, false).unwrap();
        once.set_paced(false);
        assert_eq!((once.width(), once.height(), once.fps()), (320, 180, 15.0));
        let first = once.next_frame().unwrap();
        for _ in 1..150 {
            once.next_frame().unwrap();
        }
        assert!(matches!(once.next_frame(), Err(MediaError::EndOfStream)));

        let mut looped = Y4mFileSource::open(CLIP, true).unwrap();
        looped.set_paced(false);
        for _ in 0..150 {
            looped.next_frame().unwrap();
        }
        assert_eq!(looped.next_frame().unwrap().data, first.data);
    }

    #[test]
    fn rejects_other_colorspaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c444.y4m");
        let mut body = b"YUV4MPEG2 W2 H2 F15:1 C444\nFRAME\n".to_vec();
        body.extend_from_slice(&[0; 12]);
        std::fs::write(&p, body).unwrap();
        let err = Y4mFileSource::open(&p, false).err().unwrap();
        assert!(matches!(err, MediaError::Format { .. }), "{err}");
        assert!(matches!(
            Y4mFileSource::open(dir.path().join("none.y4m"), false),
            Err(MediaError::Io { .. })
        ));
    }

    #[test]
    fn recorder_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.y4m");
        let mut rec = Y4mRecorder::create(&p, 15).unwrap();
        let mut frames = Vec::new();
        for i in 0..3u8 {
            let mut f = I420Frame::new_black(16, 8);
            f.data
                .iter_mut()
                .enumerate()
                .for_each(|(j, b)| *b = i ^ j as u8);
            rec.write(&f).unwrap();
            frames.push(f);
        }
        // Readable before finish (as after a kill).
        assert_eq!(read_y4m_all(&p).unwrap().len(), 3);
        // A frame of another size is scaled to the recording's.
        rec.write(&I420Frame::new_black(8, 8)).unwrap();
        rec.finish().unwrap();
        let mut back = read_y4m_all(&p).unwrap();
        let other = back.pop().unwrap();
        assert_eq!((other.width, other.height), (16, 8));
        assert_eq!(other.data, I420Frame::new_black(16, 8).data);
        let head = std::fs::read(&p).unwrap();
        assert!(head.starts_with(b"YUV4MPEG2 W16 H8 F15:1 Ip A1:1 C420jpeg\n"));
        for (a, b) in frames.iter().zip(&back) {
            assert_eq!(a.data, b.data);
        }
        assert!(p.exists());
    }

    #[test]
    fn recorder_without_frames_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("none.y4m");
        let mut rec = Y4mRecorder::create(&p, 15).unwrap();
        assert!(p.exists(), "created at once, so a bad path fails early");
        rec.finish().unwrap();
        assert!(!p.exists());
        rec.finish().unwrap();
        // Dropping without finish removes it too.
        drop(Y4mRecorder::create(&p, 15).unwrap());
        assert!(!p.exists());
    }
}
