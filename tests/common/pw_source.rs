//! A PipeWire video source showing one still picture (BGRx, 10 frames/s): the
//! "screen" a test ScreenCast portal hands out. It drives its own graph (a timer
//! triggers each frame), like PipeWire's `video-src` example.
#![allow(dead_code)]

use std::io::Cursor;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::thread::JoinHandle;
use std::time::Duration;

use pipewire::spa::param::format::{FormatProperties, MediaSubtype, MediaType};
use pipewire::spa::param::video::VideoFormat;
use pipewire::spa::param::ParamType;
use pipewire::spa::pod::serialize::PodSerializer;
use pipewire::spa::pod::{self, Pod};
use pipewire::spa::sys as spa_sys;
use pipewire::spa::utils::{Direction, Fraction, Rectangle, SpaTypes};
use pipewire::stream::{StreamFlags, StreamRc};

/// The running source; dropping it removes the node.
pub struct PictureSource {
    quit: Option<pipewire::channel::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

fn serialize(obj: pod::Object) -> Vec<u8> {
    PodSerializer::serialize(Cursor::new(Vec::new()), &pod::Value::Object(obj))
        .unwrap()
        .0
        .into_inner()
}

fn int(key: u32, v: i32) -> pod::Property {
    pod::Property {
        key,
        flags: pod::PropertyFlags::empty(),
        value: pod::Value::Int(v),
    }
}

impl PictureSource {
    /// Publishes node `name` (media.class `Video/Source`) on the PipeWire daemon
    /// listening at `socket`, showing `rgb` (`width × height × 3` bytes).
    pub fn start(socket: &Path, name: &str, width: u32, height: u32, rgb: &[u8]) -> Self {
        let stride = width as usize * 4;
        let frame: Vec<u8> = rgb
            .chunks_exact(3)
            .flat_map(|p| [p[2], p[1], p[0], 0])
            .collect();
        assert_eq!(frame.len(), stride * height as usize);
        let conn = UnixStream::connect(socket).expect("connect to PipeWire");
        let name = name.to_owned();
        let (quit, quit_rx) = pipewire::channel::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            pipewire::init();
            let main_loop = pipewire::main_loop::MainLoopRc::new(None).unwrap();
            let context = pipewire::context::ContextRc::new(&main_loop, None).unwrap();
            let core = context.connect_fd_rc(conn.into(), None).unwrap();
            let stream = StreamRc::new(
                core,
                &name,
                pipewire::properties::properties! {
                    *pipewire::keys::MEDIA_CLASS => "Video/Source",
                    *pipewire::keys::NODE_NAME => name.as_str(),
                },
            )
            .unwrap();
            let _listener = stream
                .add_local_listener_with_user_data(())
                .process(move |stream, _| {
                    let Some(mut buffer) = stream.dequeue_buffer() else {
                        return;
                    };
                    let Some(d) = buffer.datas_mut().first_mut() else {
                        return;
                    };
                    let Some(dst) = d.data() else { return };
                    let n = frame.len().min(dst.len());
                    dst[..n].copy_from_slice(&frame[..n]);
                    let chunk = d.chunk_mut();
                    *chunk.offset_mut() = 0;
                    *chunk.stride_mut() = stride as i32;
                    *chunk.size_mut() = n as u32;
                })
                .register()
                .unwrap();
            let format = serialize(pod::object!(
                SpaTypes::ObjectParamFormat,
                ParamType::EnumFormat,
                pod::property!(FormatProperties::MediaType, Id, MediaType::Video),
                pod::property!(FormatProperties::MediaSubtype, Id, MediaSubtype::Raw),
                pod::property!(FormatProperties::VideoFormat, Id, VideoFormat::BGRx),
                pod::property!(
                    FormatProperties::VideoSize,
                    Rectangle,
                    Rectangle { width, height }
                ),
                pod::property!(
                    FormatProperties::VideoFramerate,
                    Fraction,
                    Fraction { num: 10, denom: 1 }
                ),
            ));
            let buffers = serialize(pod::Object {
                type_: SpaTypes::ObjectParamBuffers.as_raw(),
                id: ParamType::Buffers.as_raw(),
                properties: vec![
                    int(spa_sys::SPA_PARAM_BUFFERS_buffers, 4),
                    int(spa_sys::SPA_PARAM_BUFFERS_blocks, 1),
                    int(
                        spa_sys::SPA_PARAM_BUFFERS_size,
                        (stride * height as usize) as i32,
                    ),
                    int(spa_sys::SPA_PARAM_BUFFERS_stride, stride as i32),
                    // spa_data_type: MemPtr = 1, MemFd = 2.
                    int(spa_sys::SPA_PARAM_BUFFERS_dataType, (1 << 1) | (1 << 2)),
                ],
            });
            let mut params = [
                Pod::from_bytes(&format).unwrap(),
                Pod::from_bytes(&buffers).unwrap(),
            ];
            stream
                .connect(
                    Direction::Output,
                    None,
                    StreamFlags::DRIVER | StreamFlags::MAP_BUFFERS,
                    &mut params,
                )
                .unwrap();
            let trigger = stream.clone();
            let timer = main_loop.loop_().add_timer(move |_| {
                let _ = trigger.trigger_process();
            });
            timer
                .update_timer(
                    Some(Duration::from_millis(10)),
                    Some(Duration::from_millis(100)),
                )
                .into_result()
                .unwrap();
            let ml = main_loop.clone();
            let _quit = quit_rx.attach(main_loop.loop_(), move |()| ml.quit());
            let _ = ready_tx.send(());
            main_loop.run();
            let _ = stream.disconnect();
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the PipeWire picture source did not start");
        PictureSource {
            quit: Some(quit),
            thread: Some(thread),
        }
    }
}

impl Drop for PictureSource {
    fn drop(&mut self) {
        if let Some(q) = self.quit.take() {
            let _ = q.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
