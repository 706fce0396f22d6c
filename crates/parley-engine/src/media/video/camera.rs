//! Cameras through nokhwa (feature `camera`), delivered as I420.

use super::{I420Frame, VideoSource};
use crate::media::MediaError;

/// One camera as the platform lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraInfo {
    /// Index to pass to [`CameraSource::open`] (`/dev/video<index>` on Linux).
    pub index: u32,
    /// Human-readable name.
    pub name: String,
}

/// What a camera is asked for when it opens: (width, height, frames/s) =
/// 1280x720 at 30 frames/s; a camera that does not offer it opens in the
/// format it offers closest to it (nokhwa's `RequestedFormatType::Closest`).
pub const DEFAULT_CAMERA_MODE: (u32, u32, u32) = (1280, 720, 30);

/// Converts packed 8-bit RGB (`width × height × 3` bytes, row-major) to I420,
/// BT.601 limited range (SIMD, through the `yuv` crate; chroma from each 2×2
/// block). Odd trailing rows or columns are dropped so the result has even
/// dimensions.
///
/// # Errors
/// [`MediaError::Invalid`] if `rgb` is shorter than `width × height × 3` or the
/// even-rounded size is zero.
pub fn rgb_to_i420(
    rgb: &[u8],
    width: u32,
    height: u32,
    capture_us: u64,
) -> Result<I420Frame, MediaError> {
    use yuv::{rgb_to_yuv420, YuvConversionMode, YuvRange, YuvStandardMatrix};
    let (w, h) = (width & !1, height & !1);
    if w == 0 || h == 0 || rgb.len() < width as usize * height as usize * 3 {
        return Err(MediaError::Invalid(format!(
            "RGB {width}x{height} with {} bytes",
            rgb.len()
        )));
    }
    let mut f = I420Frame::new_black(w, h);
    f.capture_us = capture_us;
    let mut planar = f.yuv_planar_mut();
    // The rows of the even-sized picture, each `width × 3` bytes apart.
    let rows = &rgb[..width as usize * h as usize * 3];
    rgb_to_yuv420(
        &mut planar,
        rows,
        width * 3,
        YuvRange::Limited,
        YuvStandardMatrix::Bt601,
        YuvConversionMode::Balanced,
    )
    .map_err(|e| MediaError::Invalid(format!("RGB to I420: {e}")))?;
    Ok(f)
}

#[cfg(feature = "camera")]
mod imp {
    use super::*;
    use crate::media::monotonic_us;
    use nokhwa::pixel_format::RgbFormat;
    use nokhwa::utils::{
        ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
        Resolution,
    };
    use nokhwa::Camera;
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{mpsc, Arc};
    use std::thread::JoinHandle;

    pub fn list_cameras() -> Vec<CameraInfo> {
        let found = catch_unwind(|| nokhwa::query(ApiBackend::Auto)).ok();
        let Some(Ok(cams)) = found else {
            return Vec::new();
        };
        cams.iter()
            .enumerate()
            .map(|(i, c)| CameraInfo {
                index: match c.index() {
                    CameraIndex::Index(n) => *n,
                    CameraIndex::String(_) => i as u32,
                },
                name: c.human_name(),
            })
            .collect()
    }

    /// Frames converted ahead of the consumer; older ones are dropped.
    const QUEUE_FRAMES: usize = 2;

    /// nokhwa's `Camera` is not `Send`: a dedicated thread opens and owns it,
    /// converts frames and hands them over through a small bounded channel.
    pub struct Inner {
        frames: mpsc::Receiver<Result<I420Frame, MediaError>>,
        stop: Arc<AtomicBool>,
        thread: Option<JoinHandle<()>>,
        dims: (u32, u32, f64),
    }

    fn open_camera(index: u32, width: u32, height: u32, fps: u32) -> Result<Camera, MediaError> {
        let want = CameraFormat::new(Resolution::new(width, height), FrameFormat::MJPEG, fps);
        let req = RequestedFormat::new::<RgbFormat>(RequestedFormatType::Closest(want));
        let opened = catch_unwind(AssertUnwindSafe(|| {
            let mut cam = Camera::new(CameraIndex::Index(index), req)?;
            cam.open_stream()?;
            Ok::<_, nokhwa::NokhwaError>(cam)
        }));
        match opened {
            Err(_) => Err(MediaError::Device("camera backend panicked".into())),
            Ok(Err(e)) if list_cameras().iter().all(|c| c.index != index) => {
                tracing::debug!(%e, index, "camera open failed");
                Err(MediaError::NoDevice { kind: "camera" })
            }
            Ok(Err(e)) => Err(MediaError::Device(format!("camera {index}: {e}"))),
            Ok(Ok(cam)) => Ok(cam),
        }
    }

    fn grab(camera: &mut Camera, rgb: &mut Vec<u8>) -> Result<I420Frame, MediaError> {
        let buf = camera
            .frame()
            .map_err(|e| MediaError::Device(format!("camera frame: {e}")))?;
        let stamp = monotonic_us();
        let res = buf.resolution();
        rgb.resize(res.width() as usize * res.height() as usize * 3, 0);
        buf.decode_image_to_buffer::<RgbFormat>(rgb)
            .map_err(|e| MediaError::Codec(format!("camera frame decode: {e}")))?;
        rgb_to_i420(rgb, res.width(), res.height(), stamp)
    }

    impl Inner {
        pub fn open(index: u32, width: u32, height: u32, fps: u32) -> Result<Self, MediaError> {
            let (ready_tx, ready_rx) = mpsc::sync_channel(1);
            let (tx, frames) = mpsc::sync_channel(QUEUE_FRAMES);
            let stop = Arc::new(AtomicBool::new(false));
            let stop2 = stop.clone();
            let thread = std::thread::Builder::new()
                .name("parley-camera".into())
                .spawn(move || {
                    let mut camera = match open_camera(index, width, height, fps) {
                        Ok(c) => c,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let fmt = camera.camera_format();
                    let dims = (
                        fmt.resolution().width() & !1,
                        fmt.resolution().height() & !1,
                        f64::from(fmt.frame_rate().max(1)),
                    );
                    let _ = ready_tx.send(Ok(dims));
                    let mut rgb = Vec::new();
                    while !stop2.load(Ordering::Relaxed) {
                        let frame = grab(&mut camera, &mut rgb);
                        let failed = frame.is_err();
                        match tx.try_send(frame) {
                            Err(mpsc::TrySendError::Disconnected(_)) => break,
                            // Consumer lagging: drop this frame (latest-wins upstream).
                            Err(mpsc::TrySendError::Full(_)) | Ok(()) => {}
                        }
                        if failed {
                            break;
                        }
                    }
                    let _ = camera.stop_stream();
                })
                .map_err(|e| MediaError::Device(format!("spawn camera thread: {e}")))?;
            let dims = match ready_rx.recv() {
                Ok(Ok(dims)) => dims,
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(MediaError::Device("camera thread died".into())),
            };
            Ok(Self {
                frames,
                stop,
                thread: Some(thread),
                dims,
            })
        }

        pub fn dims(&self) -> (u32, u32, f64) {
            self.dims
        }

        pub fn next_frame(&mut self) -> Result<I420Frame, MediaError> {
            self.frames
                .recv()
                .map_err(|_| MediaError::Device("camera stopped".into()))?
        }
    }

    impl Drop for Inner {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::Relaxed);
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }
}

#[cfg(not(feature = "camera"))]
mod imp {
    use super::*;

    pub fn list_cameras() -> Vec<CameraInfo> {
        Vec::new()
    }

    pub enum Inner {}

    impl Inner {
        pub fn open(_: u32, _: u32, _: u32, _: u32) -> Result<Self, MediaError> {
            Err(MediaError::NoDevice { kind: "camera" })
        }
        pub fn dims(&self) -> (u32, u32, f64) {
            match *self {}
        }
        pub fn next_frame(&mut self) -> Result<I420Frame, MediaError> {
            match *self {}
        }
    }
}

/// The cameras present; empty (never an error) when there are none, the backend
/// fails, or the `camera` feature is off.
pub fn list_cameras() -> Vec<CameraInfo> {
    imp::list_cameras()
}

/// A [`VideoSource`] over a real camera. Frames come at the camera's own pace
/// ([`next_frame`](VideoSource::next_frame) blocks on the device), converted to
/// I420 (BT.601 limited range, dimensions rounded down to even).
pub struct CameraSource {
    inner: imp::Inner,
}

impl CameraSource {
    /// Opens camera `index` asking for the format closest to `width × height`
    /// pixels at `fps` frames per second; the camera may pick another, which
    /// [`width`](VideoSource::width) and friends then report.
    ///
    /// # Errors
    /// [`MediaError::NoDevice`] when no such camera exists (or the `camera`
    /// feature is off); [`MediaError::Device`] when it exists but cannot open.
    pub fn open(index: u32, width: u32, height: u32, fps: u32) -> Result<Self, MediaError> {
        Ok(Self {
            inner: imp::Inner::open(index, width, height, fps)?,
        })
    }
}

impl VideoSource for CameraSource {
    fn width(&self) -> u32 {
        self.inner.dims().0
    }
    fn height(&self) -> u32 {
        self.inner.dims().1
    }
    fn fps(&self) -> f64 {
        self.inner.dims().2
    }
    fn next_frame(&mut self) -> Result<I420Frame, MediaError> {
        self.inner.next_frame()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_camera_fails_cleanly() {
        let cams = list_cameras();
        if cams.iter().any(|c| c.index == 0) {
            println!("skipping: a camera 0 exists");
            return;
        }
        assert!(CameraSource::open(0, 640, 480, 30).is_err());
    }

    #[test]
    fn rgb_conversion_bt601_limited() {
        // 2x2 white, then 2x2 black, then red; odd width 5 is cropped to 4.
        let mut rgb = vec![255u8; 5 * 2 * 3];
        rgb[6..12].fill(0);
        rgb[21..27].fill(0);
        let f = rgb_to_i420(&rgb, 5, 2, 7).unwrap();
        assert_eq!((f.width, f.height, f.capture_us), (4, 2, 7));
        // Within 1 of the BT.601 limited-range formulas (rounding differs).
        let near = |got: u8, want: u8| got.abs_diff(want) <= 1;
        assert!(near(f.y()[0], 235) && near(f.y()[1], 235), "{:?}", f.y());
        assert!(near(f.y()[2], 16), "{:?}", f.y());
        assert!(near(f.u()[0], 128) && near(f.v()[0], 128));
        let red = rgb_to_i420(&[255, 0, 0].repeat(4), 2, 2, 0).unwrap();
        let (y, u, v) = (red.y()[0], red.u()[0], red.v()[0]);
        assert!(near(y, 82) && near(u, 90) && near(v, 240), "{y} {u} {v}");
        assert!(rgb_to_i420(&[0; 5], 2, 2, 0).is_err());
    }
}
