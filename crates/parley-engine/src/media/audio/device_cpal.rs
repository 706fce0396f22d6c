//! cpal 0.18 backend of [`super::MicSource`] and [`super::SpeakerSink`].
//!
//! Each stream lives on a thread that builds it, owns it, and every
//! [`WATCH_MS`] checks its device: a device gone (or a stream the host
//! ended) is replaced by the default one; a stream that follows the default
//! moves when the default changes (a headset plugged in); a device asked for
//! by name is returned to when it comes back. Each move is told through the
//! shared switch callback ([`super::DeviceSwitch`]).
//!
//! On Linux the PulseAudio host (PulseAudio itself, or PipeWire through
//! pipewire-pulse) is used when a server is running: it names the real sinks
//! and sources and sees them come and go (microphones are then recorded by
//! [`super::pulse`]). ALSA is the fallback.

use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{BufferSize, Device, FromSample, Host, SampleFormat, SizedSample, StreamConfig};

use super::{AudioDeviceInfo, DeviceSwitch, Framer, Shared, SwitchReason};
use crate::media::audio::{downmix, StreamResampler, SAMPLE_RATE_HZ};
use crate::media::MediaError;

/// How often a stream's thread checks its device, ms.
pub const WATCH_MS: u64 = 500;

/// A device's stable key (the host's device id without the host prefix: a
/// PulseAudio sink or source name, an ALSA PCM name) and its display name.
fn ident(d: &Device) -> (String, String) {
    let id = d
        .id()
        .map(|i| i.id().to_string())
        .unwrap_or_else(|_| d.to_string());
    let name = d
        .description()
        .map(|desc| desc.name().to_string())
        .unwrap_or_else(|_| d.to_string());
    (id, name)
}

fn devices(host: &Host, input: bool) -> Vec<Device> {
    let found = if input {
        host.input_devices().map(|d| d.collect::<Vec<_>>())
    } else {
        host.output_devices().map(|d| d.collect::<Vec<_>>())
    };
    found.unwrap_or_default()
}

pub fn list(input: bool) -> Vec<AudioDeviceInfo> {
    devices(&cpal::default_host(), input)
        .into_iter()
        .enumerate()
        .map(|(index, d)| {
            let (id, name) = ident(&d);
            AudioDeviceInfo { index, id, name }
        })
        .collect()
}

/// The device `wanted` names (an id first, else a display name), or the
/// host's default when `wanted` is `None` or names nothing listed.
fn resolve(host: &Host, input: bool, wanted: Option<&str>) -> Option<(Device, String, String)> {
    if let Some(w) = wanted {
        let listed: Vec<_> = devices(host, input)
            .into_iter()
            .map(|d| {
                let (id, name) = ident(&d);
                (d, id, name)
            })
            .collect();
        if let Some(i) = listed
            .iter()
            .position(|(_, id, _)| id == w)
            .or_else(|| listed.iter().position(|(_, _, name)| name == w))
        {
            return listed.into_iter().nth(i);
        }
    }
    let dev = if input {
        host.default_input_device()
    } else {
        host.default_output_device()
    }?;
    let (id, name) = ident(&dev);
    Some((dev, id, name))
}

fn is_listed(host: &Host, input: bool, id: &str) -> bool {
    devices(host, input).iter().any(|d| ident(d).0 == id)
}

/// Whether the host is PulseAudio: its streams then ask for a short buffer
/// (its default is about 2 s: fine for music, not for a call), and
/// microphones are recorded by [`super::pulse`].
fn is_pulse(host: &Host) -> bool {
    #[cfg(target_os = "linux")]
    {
        host.id() == cpal::HostId::PulseAudio
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = host;
        false
    }
}

/// The thread owning a live cpal stream; dropping it stops and joins the thread.
pub struct StreamThread {
    stop: Option<mpsc::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl Drop for StreamThread {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// A live stream: cpal's, or (Linux, PulseAudio host, microphones) our own
/// PulseAudio record stream. Dropping it stops it.
enum Live {
    Cpal(#[allow(dead_code)] cpal::Stream),
    #[cfg(target_os = "linux")]
    Pulse(#[allow(dead_code)] super::pulse::PulseRecord),
}

/// Builds a stream on `dev` (whose id is the second argument; the third is
/// whether the host is PulseAudio): the stream and its device rate, Hz.
type Build<T> = fn(&Device, &str, bool, Arc<Shared<T>>) -> Result<(Live, u32), MediaError>;

/// What a watched stream is: which way, what it is called in messages, and
/// how it is built.
struct Kind<T> {
    input: bool,
    what: &'static str,
    build: Build<T>,
}

fn open_on<T>(
    kind: &Kind<T>,
    host: &Host,
    (dev, id): (&Device, &str),
    shared: &Arc<Shared<T>>,
) -> Result<Live, MediaError> {
    let (live, rate) = (kind.build)(dev, id, is_pulse(host), shared.clone())?;
    if let Live::Cpal(stream) = &live {
        stream
            .play()
            .map_err(|e| MediaError::Device(format!("start {}: {e}", kind.what)))?;
    }
    shared.rate_hz.store(rate, Ordering::Relaxed);
    Ok(live)
}

/// Opens the stream `wanted` names (or the default) on its own thread and
/// watches it until the handle drops. `wanted` naming nothing listed is
/// [`MediaError::NoDevice`] at open; later it means "the default until it
/// comes back".
fn spawn<T: Send + 'static>(
    kind: Kind<T>,
    wanted: Option<String>,
    shared: Arc<Shared<T>>,
) -> Result<StreamThread, MediaError> {
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<(), MediaError>>(1);
    let name = format!("parley-{}", kind.what);
    let handle = std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            let host = cpal::default_host();
            let first = match &wanted {
                Some(w) => devices(&host, kind.input).into_iter().find(|d| {
                    let (id, name) = ident(d);
                    &id == w || &name == w
                }),
                None if kind.input => host.default_input_device(),
                None => host.default_output_device(),
            };
            let Some(dev) = first else {
                let kind = if kind.input {
                    "audio input"
                } else {
                    "audio output"
                };
                let _ = ready_tx.send(Err(MediaError::NoDevice { kind }));
                return;
            };
            let (id, name) = ident(&dev);
            match open_on(&kind, &host, (&dev, &id), &shared) {
                Ok(stream) => {
                    let _ = ready_tx.send(Ok(()));
                    watch(&kind, host, wanted, &shared, &stop_rx, (stream, id, name));
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            }
        })
        .map_err(|e| MediaError::Device(format!("spawn {name}: {e}")))?;
    let thread = StreamThread {
        stop: Some(stop_tx),
        handle: Some(handle),
    };
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(thread),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(MediaError::Device(format!("{name} thread died"))),
    }
}

/// The watch loop: returns when the handle drops the stop sender.
fn watch<T>(
    kind: &Kind<T>,
    mut host: Host,
    wanted: Option<String>,
    shared: &Arc<Shared<T>>,
    stop: &mpsc::Receiver<()>,
    first: (Live, String, String),
) {
    let (stream, mut id, mut name) = first;
    let mut stream = Some(stream);
    loop {
        match stop.recv_timeout(Duration::from_millis(WATCH_MS)) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let lost = shared.lost.swap(false, Ordering::Relaxed);
        if lost {
            // The host itself may be what went (a sound server restarted).
            stream = None;
            host = cpal::default_host();
        }
        let Some((dev, to_id, to_name)) = resolve(&host, kind.input, wanted.as_deref()) else {
            if stream.is_none() {
                shared.fail(format!("{}: no device left", kind.what));
            }
            // Perhaps the sound server went: connect afresh next time.
            host = cpal::default_host();
            continue;
        };
        if stream.is_some() && to_id == id {
            continue;
        }
        let reason = if lost && to_id == id {
            SwitchReason::Reopened
        } else if stream.is_none() || !is_listed(&host, kind.input, &id) {
            SwitchReason::Lost
        } else if wanted
            .as_deref()
            .is_some_and(|w| w == to_id || w == to_name)
        {
            SwitchReason::Returned
        } else {
            SwitchReason::NewDefault
        };
        // Closed first: some devices (ALSA hardware) take one stream at a time.
        stream = None;
        match open_on(kind, &host, (&dev, &to_id), shared) {
            Ok(s) => {
                stream = Some(s);
                shared.clear_failure();
                let switch = DeviceSwitch {
                    input: kind.input,
                    from: std::mem::replace(&mut name, to_name),
                    to: name.clone(),
                    reason,
                };
                id = to_id;
                tracing::info!("{switch}");
                shared.switched(&switch);
            }
            Err(e) => {
                tracing::warn!("{}: {e}", kind.what);
                shared.fail(e.to_string());
            }
        }
    }
}

/// A stream's error. Passing trouble is logged and the stream goes on: an
/// xrun, a busy or rerouted device, a refused real-time priority, and a
/// backend error (the ALSA PulseAudio plugin's `EIO` from
/// `snd_pcm_avail_delay` while the server has no timing yet,
/// alsa-project/alsa-plugins#65, after which ALSA streams play on). Anything
/// else (the device or host gone, the stream invalidated, access denied)
/// marks the stream lost: its thread reopens it on the default device.
fn stream_error<T>(shared: &Shared<T>, what: &str, e: cpal::Error) {
    use cpal::ErrorKind as K;
    match e.kind() {
        K::Xrun | K::DeviceBusy | K::DeviceChanged | K::RealtimeDenied | K::BackendError => {
            tracing::debug!("{what}: {e}");
        }
        _ => {
            tracing::warn!("{what}: {e}");
            shared.lost.store(true, Ordering::Relaxed);
        }
    }
}

fn dev_err(what: &str) -> impl Fn(cpal::Error) -> MediaError + '_ {
    move |e| MediaError::Device(format!("{what}: {e}"))
}

/// The device's default configuration, with a 20 ms buffer when `short`.
fn config_of(supported: &cpal::SupportedStreamConfig, short: bool) -> StreamConfig {
    let mut config = supported.config();
    if short {
        config.buffer_size = BufferSize::Fixed((config.sample_rate / 50).max(1));
    }
    config
}

fn build_input_typed<T>(
    dev: &Device,
    config: StreamConfig,
    shared: Arc<Shared<Vec<f32>>>,
) -> Result<cpal::Stream, MediaError>
where
    T: SizedSample + Send + 'static,
    f32: FromSample<T>,
{
    let channels = usize::from(config.channels.max(1));
    let mut resampler = StreamResampler::new(config.sample_rate, SAMPLE_RATE_HZ)?;
    let mut framer = Framer::new();
    let (mut buf, mut out) = (Vec::new(), Vec::new());
    let err_shared = shared.clone();
    dev.build_input_stream::<T, _, _>(
        config,
        move |data: &[T], _| {
            buf.clear();
            buf.extend(data.iter().map(|s| s.to_sample::<f32>()));
            let mono = downmix(&buf, channels);
            out.clear();
            if resampler.process(&mono, &mut out).is_ok() {
                framer.push(&out, &shared);
            }
        },
        move |e| stream_error(&err_shared, "microphone", e),
        None,
    )
    .map_err(dev_err("open microphone"))
}

fn build_input(
    dev: &Device,
    id: &str,
    pulse: bool,
    shared: Arc<Shared<Vec<f32>>>,
) -> Result<(Live, u32), MediaError> {
    #[cfg(target_os = "linux")]
    if pulse {
        let record = super::pulse::open_record(id, shared)?;
        return Ok((Live::Pulse(record), SAMPLE_RATE_HZ));
    }
    let _ = id;
    let supported = dev
        .default_input_config()
        .map_err(dev_err("microphone config"))?;
    let config = config_of(&supported, pulse);
    let rate = config.sample_rate;
    let stream = match supported.sample_format() {
        SampleFormat::F32 => build_input_typed::<f32>(dev, config, shared),
        SampleFormat::F64 => build_input_typed::<f64>(dev, config, shared),
        SampleFormat::I16 => build_input_typed::<i16>(dev, config, shared),
        SampleFormat::U16 => build_input_typed::<u16>(dev, config, shared),
        SampleFormat::I32 => build_input_typed::<i32>(dev, config, shared),
        SampleFormat::I8 => build_input_typed::<i8>(dev, config, shared),
        SampleFormat::U8 => build_input_typed::<u8>(dev, config, shared),
        other => Err(MediaError::Device(format!(
            "microphone sample format {other:?} unsupported"
        ))),
    }?;
    Ok((Live::Cpal(stream), rate))
}

/// Opens input device `wanted` (an id or name; the default, followed, when
/// `None`) and watches it.
pub fn open_input(
    wanted: Option<String>,
    shared: Arc<Shared<Vec<f32>>>,
) -> Result<StreamThread, MediaError> {
    let kind = Kind {
        input: true,
        what: "microphone",
        build: build_input,
    };
    spawn(kind, wanted, shared)
}

fn build_output_typed<T>(
    dev: &Device,
    config: StreamConfig,
    shared: Arc<Shared<f32>>,
) -> Result<cpal::Stream, MediaError>
where
    T: SizedSample + FromSample<f32> + Send + 'static,
{
    let channels = usize::from(config.channels.max(1));
    let rate = config.sample_rate;
    let err_shared = shared.clone();
    let mut played = Vec::new();
    dev.build_output_stream::<T, _, _>(
        config,
        move |data: &mut [T], _| {
            played.clear();
            let mut q = shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            for frame in data.chunks_mut(channels) {
                let s = q.pop_front().unwrap_or(0.0);
                played.push(s);
                frame.fill(T::from_sample(s));
            }
            drop(q);
            if let Some(tap) = shared
                .tap
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_mut()
            {
                tap(&played, rate);
            }
        },
        move |e| stream_error(&err_shared, "speaker", e),
        None,
    )
    .map_err(dev_err("open speaker"))
}

fn build_output(
    dev: &Device,
    _id: &str,
    pulse: bool,
    shared: Arc<Shared<f32>>,
) -> Result<(Live, u32), MediaError> {
    let supported = dev
        .default_output_config()
        .map_err(dev_err("speaker config"))?;
    let config = config_of(&supported, pulse);
    let rate = config.sample_rate;
    let stream = match supported.sample_format() {
        SampleFormat::F32 => build_output_typed::<f32>(dev, config, shared),
        SampleFormat::F64 => build_output_typed::<f64>(dev, config, shared),
        SampleFormat::I16 => build_output_typed::<i16>(dev, config, shared),
        SampleFormat::U16 => build_output_typed::<u16>(dev, config, shared),
        SampleFormat::I32 => build_output_typed::<i32>(dev, config, shared),
        SampleFormat::I8 => build_output_typed::<i8>(dev, config, shared),
        SampleFormat::U8 => build_output_typed::<u8>(dev, config, shared),
        other => Err(MediaError::Device(format!(
            "speaker sample format {other:?} unsupported"
        ))),
    }?;
    Ok((Live::Cpal(stream), rate))
}

/// Opens output device `wanted` (an id or name; the default, followed, when
/// `None`) and watches it; the device rate is in `shared.rate_hz`.
pub fn open_output(
    wanted: Option<String>,
    shared: Arc<Shared<f32>>,
) -> Result<StreamThread, MediaError> {
    let kind = Kind {
        input: false,
        what: "speaker",
        build: build_output,
    };
    spawn(kind, wanted, shared)
}
