//! Receives the frames of a portal screen cast: a PipeWire stream on the remote the
//! ScreenCast portal opened for us (`OpenPipeWireRemote`), run on its own thread,
//! keeping only the newest picture.
//!
//! Formats offered: the 32-bit RGB layouts compositors produce in shared memory
//! (BGRx, BGRA, RGBx, RGBA, xBGR/xRGB are not asked for). Rows are read with the
//! stride the producer reports, so padded rows are handled.

use std::io::Cursor;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pipewire::spa::param::format::{FormatProperties, MediaSubtype, MediaType};
use pipewire::spa::param::format_utils;
use pipewire::spa::param::video::{VideoFormat, VideoInfoRaw};
use pipewire::spa::param::ParamType;
use pipewire::spa::pod::serialize::PodSerializer;
use pipewire::spa::pod::{self, Pod};
use pipewire::spa::utils::{
    Choice, ChoiceEnum, ChoiceFlags, Direction, Fraction, Rectangle, SpaTypes,
};
use pipewire::stream::{StreamFlags, StreamRc, StreamState};

use super::RgbaImage;
use crate::media::MediaError;

/// How long [`FrameSlot::latest`] waits for the first frame, ms.
const FIRST_FRAME_TIMEOUT_MS: u64 = 5_000;

/// The newest buffer as the producer laid it out; converted only when captured,
/// so frames the pacer never takes cost one copy, not a conversion.
struct RawFrame {
    format: VideoFormat,
    width: u32,
    height: u32,
    stride: usize,
    data: Vec<u8>,
}

#[derive(Default)]
struct Slot {
    frame: Option<RawFrame>,
    error: Option<String>,
}

/// The newest frame of a stream, shared between the PipeWire thread and capture.
#[derive(Default)]
pub(super) struct FrameSlot {
    slot: Mutex<Slot>,
    ready: Condvar,
}

impl FrameSlot {
    /// Keeps a copy of `bytes` (rows `stride` bytes apart), reusing the buffer.
    fn put(&self, format: VideoFormat, width: u32, height: u32, stride: usize, bytes: &[u8]) {
        let mut s = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        let frame = s.frame.get_or_insert_with(|| RawFrame {
            format,
            width,
            height,
            stride,
            data: Vec::new(),
        });
        frame.format = format;
        frame.width = width;
        frame.height = height;
        frame.stride = stride;
        frame.data.clear();
        frame.data.extend_from_slice(bytes);
        self.ready.notify_all();
    }

    /// Ends the stream with `error`: every later [`latest`](Self::latest) returns it.
    pub(super) fn fail(&self, error: String) {
        let mut s = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        s.error.get_or_insert(error);
        self.ready.notify_all();
    }

    /// The newest frame as RGBA, waiting up to 5 s for the first one.
    ///
    /// # Errors
    /// [`MediaError::Device`] when the stream failed or no frame came in time.
    pub(super) fn latest(&self) -> Result<RgbaImage, MediaError> {
        let deadline = Instant::now() + Duration::from_millis(FIRST_FRAME_TIMEOUT_MS);
        let mut s = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(e) = &s.error {
                return Err(MediaError::Device(format!("screen cast stream: {e}")));
            }
            if let Some(f) = &s.frame {
                return to_rgba(f.format, f.width, f.height, f.stride, &f.data).ok_or_else(|| {
                    MediaError::Device(format!(
                        "screen cast stream: unreadable {:?} frame of {}x{}",
                        f.format, f.width, f.height
                    ))
                });
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(MediaError::Device(
                    "screen cast stream: no picture from the compositor within 5 s".into(),
                ));
            }
            s = self
                .ready
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// A running stream; dropping it stops the PipeWire thread.
pub(super) struct PipeWireStream {
    quit: Option<pipewire::channel::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl PipeWireStream {
    /// Connects to the portal's PipeWire remote `fd` and streams node `node_id`
    /// into `slot`.
    ///
    /// # Errors
    /// [`MediaError::Device`] if the thread cannot be started.
    pub(super) fn start(
        fd: OwnedFd,
        node_id: u32,
        slot: Arc<FrameSlot>,
    ) -> Result<Self, MediaError> {
        let (quit, quit_rx) = pipewire::channel::channel::<()>();
        let thread_slot = slot;
        let thread = std::thread::Builder::new()
            .name("parley-pipewire".into())
            .spawn(move || {
                if let Err(e) = run(fd, node_id, &thread_slot, quit_rx) {
                    thread_slot.fail(e);
                }
            })
            .map_err(|e| MediaError::Device(format!("screen cast thread: {e}")))?;
        Ok(Self {
            quit: Some(quit),
            thread: Some(thread),
        })
    }
}

impl Drop for PipeWireStream {
    fn drop(&mut self) {
        if let Some(q) = self.quit.take() {
            let _ = q.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The format we accept: raw video, 32-bit RGB, any size and rate.
fn enum_format() -> Result<Vec<u8>, String> {
    let obj = pod::object!(
        SpaTypes::ObjectParamFormat,
        ParamType::EnumFormat,
        pod::property!(FormatProperties::MediaType, Id, MediaType::Video),
        pod::property!(FormatProperties::MediaSubtype, Id, MediaSubtype::Raw),
        pod::property!(
            FormatProperties::VideoFormat,
            Choice,
            Enum,
            Id,
            VideoFormat::BGRx,
            VideoFormat::BGRx,
            VideoFormat::BGRA,
            VideoFormat::RGBx,
            VideoFormat::RGBA
        ),
        pod::property!(
            FormatProperties::VideoSize,
            Choice,
            Range,
            Rectangle,
            Rectangle {
                width: 1920,
                height: 1080
            },
            Rectangle {
                width: 1,
                height: 1
            },
            Rectangle {
                width: 16384,
                height: 16384
            }
        ),
        pod::property!(
            FormatProperties::VideoFramerate,
            Choice,
            Range,
            Fraction,
            Fraction { num: 30, denom: 1 },
            Fraction { num: 0, denom: 1 },
            Fraction { num: 240, denom: 1 }
        ),
        // No more than the pacer's ceiling, so a 144 Hz monitor is not streamed at
        // 144 frames/s only to be dropped here.
        pod::property!(
            FormatProperties::VideoMaxFramerate,
            Choice,
            Range,
            Fraction,
            Fraction { num: 30, denom: 1 },
            Fraction { num: 1, denom: 1 },
            Fraction { num: 30, denom: 1 }
        ),
    );
    PodSerializer::serialize(Cursor::new(Vec::new()), &pod::Value::Object(obj))
        .map(|(c, _)| c.into_inner())
        .map_err(|e| format!("format description: {e:?}"))
}

/// The buffer types we can read: memory pointers and memfds (bit mask of
/// `spa_data_type`).
fn buffers_param() -> Result<Vec<u8>, String> {
    // spa_data_type (spa/buffer/buffer.h): MemPtr = 1, MemFd = 2.
    let mask: i32 = (1 << 1) | (1 << 2);
    let obj = pod::Object {
        type_: SpaTypes::ObjectParamBuffers.as_raw(),
        id: ParamType::Buffers.as_raw(),
        properties: vec![pod::Property {
            key: pipewire::spa::sys::SPA_PARAM_BUFFERS_dataType,
            flags: pod::PropertyFlags::empty(),
            // A flags choice, as PipeWire's examples send it: the producer keeps
            // the types it can offer among these.
            value: pod::Value::Choice(pod::ChoiceValue::Int(Choice(
                ChoiceFlags::empty(),
                ChoiceEnum::Flags {
                    default: mask,
                    flags: vec![],
                },
            ))),
        }],
    };
    PodSerializer::serialize(Cursor::new(Vec::new()), &pod::Value::Object(obj))
        .map(|(c, _)| c.into_inner())
        .map_err(|e| format!("buffers description: {e:?}"))
}

/// Copies one buffer (rows `stride` bytes apart) into packed RGBA.
fn to_rgba(
    format: VideoFormat,
    width: u32,
    height: u32,
    stride: usize,
    src: &[u8],
) -> Option<RgbaImage> {
    let row = width as usize * 4;
    let needed = stride
        .checked_mul(height as usize - 1)
        .and_then(|n| n.checked_add(row));
    if width == 0 || height == 0 || stride < row || needed.is_none_or(|n| src.len() < n) {
        return None;
    }
    let bgr = match format {
        VideoFormat::BGRx | VideoFormat::BGRA => true,
        VideoFormat::RGBx | VideoFormat::RGBA => false,
        _ => return None,
    };
    let mut data = Vec::with_capacity(row * height as usize);
    for y in 0..height as usize {
        let line = &src[y * stride..y * stride + row];
        for px in line.chunks_exact(4) {
            let (r, b) = if bgr { (px[2], px[0]) } else { (px[0], px[2]) };
            data.extend_from_slice(&[r, px[1], b, 255]);
        }
    }
    Some(RgbaImage {
        width,
        height,
        data,
    })
}

/// The PipeWire thread: runs until `quit` fires.
fn run(
    fd: OwnedFd,
    node_id: u32,
    slot: &Arc<FrameSlot>,
    quit: pipewire::channel::Receiver<()>,
) -> Result<(), String> {
    pipewire::init();
    let main_loop = pipewire::main_loop::MainLoopRc::new(None).map_err(|e| e.to_string())?;
    let context = pipewire::context::ContextRc::new(&main_loop, None).map_err(|e| e.to_string())?;
    let core = context
        .connect_fd_rc(fd, None)
        .map_err(|e| format!("cannot connect to the portal's PipeWire remote: {e}"))?;
    let stream = StreamRc::new(
        core,
        "parley-screen",
        pipewire::properties::properties! {
            *pipewire::keys::MEDIA_TYPE => "Video",
            *pipewire::keys::MEDIA_CATEGORY => "Capture",
            *pipewire::keys::MEDIA_ROLE => "Screen",
        },
    )
    .map_err(|e| e.to_string())?;

    let frames = slot.clone();
    let failures = slot.clone();
    let _listener = stream
        .add_local_listener_with_user_data(VideoInfoRaw::default())
        .state_changed(move |_, _, old, new| match new {
            StreamState::Error(e) => failures.fail(e),
            // The desktop ended the cast (its own "stop sharing" button, the
            // window closed): end the share instead of repeating the last picture.
            StreamState::Unconnected if !matches!(old, StreamState::Unconnected) => {
                failures.fail("the desktop stopped the screen cast".into());
            }
            _ => {}
        })
        .param_changed(|stream, info, id, param| {
            let Some(param) = param else { return };
            if id != ParamType::Format.as_raw() {
                return;
            }
            if let Ok((MediaType::Video, MediaSubtype::Raw)) = format_utils::parse_format(param) {
                if let Err(e) = info.parse(param) {
                    tracing::warn!("screen cast: unreadable format: {e:?}");
                    return;
                }
                // Ask for buffers we can map (shared memory), as PipeWire's
                // video-capture examples do; without it the producer may offer
                // buffers this client cannot use.
                match buffers_param().and_then(|b| {
                    let mut params = [Pod::from_bytes(&b).ok_or("buffers param is not a pod")?];
                    stream.update_params(&mut params).map_err(|e| e.to_string())
                }) {
                    Ok(()) => {}
                    Err(e) => tracing::warn!("screen cast: {e}"),
                }
            }
        })
        .process(move |stream, info| {
            let Some(mut buffer) = stream.dequeue_buffer() else {
                return;
            };
            let Some(data) = buffer.datas_mut().first_mut() else {
                return;
            };
            let chunk = data.chunk();
            let (offset, size) = (chunk.offset() as usize, chunk.size() as usize);
            let frame_size = info.size();
            // A negative stride means bottom-up rows, which no screen producer
            // sends in shared memory; skip rather than show it upside down.
            let stride = match chunk.stride() {
                0 => frame_size.width as usize * 4,
                s if s > 0 => s as usize,
                s => {
                    tracing::debug!("screen cast: skipped a buffer with stride {s}");
                    return;
                }
            };
            let Some(bytes) = data.data() else {
                tracing::debug!("screen cast: a buffer that cannot be mapped");
                return;
            };
            let Some(bytes) = bytes.get(offset..offset.saturating_add(size)) else {
                return;
            };
            frames.put(
                info.format(),
                frame_size.width,
                frame_size.height,
                stride,
                bytes,
            );
        })
        .register()
        .map_err(|e| e.to_string())?;

    let format = enum_format()?;
    let mut params = [Pod::from_bytes(&format).ok_or("format description is not a pod")?];
    stream
        .connect(
            Direction::Input,
            Some(node_id),
            StreamFlags::AUTOCONNECT | StreamFlags::MAP_BUFFERS,
            &mut params,
        )
        .map_err(|e| format!("cannot connect to screen cast node {node_id}: {e}"))?;

    let loop_handle = main_loop.clone();
    let _quit = quit.attach(main_loop.loop_(), move |()| loop_handle.quit());
    main_loop.run();
    let _ = stream.disconnect();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bgrx_rows_with_padding_become_packed_rgba() {
        // 2×2 BGRx, stride 12 (4 bytes of padding per row).
        let src = [
            3, 2, 1, 0, 6, 5, 4, 0, 9, 9, 9, 9, //
            30, 20, 10, 0, 60, 50, 40, 0,
        ];
        let img = to_rgba(VideoFormat::BGRx, 2, 2, 12, &src).unwrap();
        assert_eq!(
            img.data,
            [1, 2, 3, 255, 4, 5, 6, 255, 10, 20, 30, 255, 40, 50, 60, 255]
        );
    }

    #[test]
    fn short_or_unknown_buffers_are_refused() {
        assert!(to_rgba(VideoFormat::RGBx, 2, 2, 8, &[0; 15]).is_none());
        assert!(to_rgba(VideoFormat::RGBx, 2, 2, 4, &[0; 16]).is_none());
        assert!(to_rgba(VideoFormat::NV12, 2, 2, 8, &[0; 16]).is_none());
        assert!(to_rgba(VideoFormat::RGBA, 2, 2, 8, &[0; 16]).is_some());
        assert!(to_rgba(VideoFormat::RGBx, 2, u32::MAX, 8, &[0; 16]).is_none());
    }

    #[test]
    fn channel_order_and_alpha_follow_the_format() {
        let px = [10, 20, 30, 40];
        let rgba = |f| to_rgba(f, 1, 1, 4, &px).unwrap().data;
        assert_eq!(rgba(VideoFormat::BGRA), [30, 20, 10, 255]);
        assert_eq!(rgba(VideoFormat::BGRx), [30, 20, 10, 255]);
        assert_eq!(rgba(VideoFormat::RGBA), [10, 20, 30, 255]);
        assert_eq!(rgba(VideoFormat::RGBx), [10, 20, 30, 255]);
    }
}
