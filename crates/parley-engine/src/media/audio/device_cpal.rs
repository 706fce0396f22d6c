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
use std::time::{Duration, Instant};

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
    with_host(|host| devices(host, input))
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
    if let Some(found) = wanted.and_then(|w| find(host, input, w)) {
        return Some(found);
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
    pulse: bool,
    (dev, id): (&Device, &str),
    shared: &Arc<Shared<T>>,
) -> Result<Live, MediaError> {
    let (live, rate) = (kind.build)(dev, id, pulse, shared.clone())?;
    match &live {
        Live::Cpal(stream) => stream
            .play()
            .map_err(|e| MediaError::Device(format!("start {}: {e}", kind.what)))?,
        #[cfg(target_os = "linux")]
        Live::Pulse(_) => {}
    }
    shared.rate_hz.store(rate, Ordering::Relaxed);
    shared.touch();
    Ok(live)
}

/// The process's host, shared by every stream thread and listing: each
/// PulseAudio host is a connection (and a thread) of its own, and a server
/// takes a limited number of them.
static HOST: std::sync::Mutex<Option<Host>> = std::sync::Mutex::new(None);

/// Runs `f` on the process's host, connecting it first if need be.
fn with_host<R>(f: impl FnOnce(&Host) -> R) -> R {
    let mut host = HOST.lock().unwrap_or_else(|p| p.into_inner());
    f(host.get_or_insert_with(cpal::default_host))
}

/// Drops the process's host (its sound server may have gone), at most every
/// [`HOST_RETRY_MS`]: the next use connects afresh.
fn reset_host() {
    static LAST: std::sync::Mutex<Option<Instant>> = std::sync::Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    if last.is_some_and(|t| t.elapsed() < Duration::from_millis(HOST_RETRY_MS)) {
        return;
    }
    *last = Some(Instant::now());
    *HOST.lock().unwrap_or_else(|p| p.into_inner()) = None;
}

/// How often the host may be reconnected, ms.
const HOST_RETRY_MS: u64 = 5_000;
/// A microphone that delivered nothing for this long is reopened, ms (the
/// PulseAudio client reports no error when its server goes).
const MIC_SILENT_MS: u64 = 3_000;
/// A stream that ends sooner than this after it opened counts as a failure:
/// reopening backs off, ms.
const SHORT_LIVED_MS: u64 = 5_000;
/// Longest wait between reopen attempts, ms.
const MAX_BACKOFF_MS: u64 = 30_000;

/// The wait before the next reopen after `failures` in a row.
fn backoff(failures: u32) -> Duration {
    Duration::from_millis((WATCH_MS << failures.min(10)).min(MAX_BACKOFF_MS))
}

/// The listed device `key` names: its id, else its display name.
fn find(host: &Host, input: bool, key: &str) -> Option<(Device, String, String)> {
    let listed: Vec<_> = devices(host, input)
        .into_iter()
        .map(|d| {
            let (id, name) = ident(&d);
            (d, id, name)
        })
        .collect();
    let i = listed
        .iter()
        .position(|(_, id, _)| id == key)
        .or_else(|| listed.iter().position(|(_, _, name)| name == key))?;
    listed.into_iter().nth(i)
}

/// Opens the stream `wanted` names (or the default) on its own thread and
/// watches it until the handle drops. `wanted` naming nothing listed is
/// [`MediaError::NoDevice`] at open when `strict`, else the default opens;
/// later it means "the default until it comes back".
fn spawn<T: Send + 'static>(
    kind: Kind<T>,
    (wanted, strict): (Option<String>, bool),
    shared: Arc<Shared<T>>,
) -> Result<StreamThread, MediaError> {
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<(), MediaError>>(1);
    let name = format!("parley-{}", kind.what);
    let handle = std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            let (first, pulse) = with_host(|host| {
                let first = match &wanted {
                    Some(w) if strict => find(host, kind.input, w),
                    w => resolve(host, kind.input, w.as_deref()),
                };
                (first, is_pulse(host))
            });
            let Some((dev, id, name)) = first else {
                let kind = if kind.input {
                    "audio input"
                } else {
                    "audio output"
                };
                let _ = ready_tx.send(Err(MediaError::NoDevice { kind }));
                return;
            };
            match open_on(&kind, pulse, (&dev, &id), &shared) {
                Ok(stream) => {
                    let _ = ready_tx.send(Ok(()));
                    let mut watched = Watched {
                        live: Some(stream),
                        id,
                        name,
                        since: Instant::now(),
                        failures: 0,
                        next_try: Instant::now(),
                    };
                    while let Err(mpsc::RecvTimeoutError::Timeout) =
                        stop_rx.recv_timeout(Duration::from_millis(WATCH_MS))
                    {
                        watched.check(&kind, wanted.as_deref(), &shared);
                    }
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

/// A watched stream: what is open, on which device, since when, and how
/// reopening it has gone.
struct Watched {
    live: Option<Live>,
    id: String,
    name: String,
    since: Instant,
    /// Reopens in a row that failed or lived under [`SHORT_LIVED_MS`].
    failures: u32,
    /// No reopen before this (backing off).
    next_try: Instant,
}

impl Watched {
    /// One look at the device: reopens or moves the stream if need be.
    fn check<T>(&mut self, kind: &Kind<T>, wanted: Option<&str>, shared: &Arc<Shared<T>>) {
        let silent = kind.input && shared.idle_ms() > MIC_SILENT_MS;
        let lost = shared.lost.swap(false, Ordering::Relaxed) || (self.live.is_some() && silent);
        if lost {
            tracing::warn!("{}: stream lost", kind.what);
            self.live = None;
        }
        if self.live.is_none() && Instant::now() < self.next_try {
            return;
        }
        let (target, pulse, old_listed) = with_host(|host| {
            let target = resolve(host, kind.input, wanted);
            let moving = target.as_ref().is_some_and(|t| t.1 != self.id);
            let old_listed = !moving || is_listed(host, kind.input, &self.id);
            (target, is_pulse(host), old_listed)
        });
        let Some((dev, to_id, to_name)) = target else {
            if self.live.is_none() {
                shared.fail(format!("{}: no device left", kind.what));
            }
            // Perhaps the sound server went: connect afresh.
            reset_host();
            return;
        };
        if self.live.is_some() && to_id == self.id {
            return;
        }
        let reason = if self.live.is_none() && to_id == self.id {
            SwitchReason::Reopened
        } else if self.live.is_none() || !old_listed {
            SwitchReason::Lost
        } else if wanted.is_some_and(|w| w == to_id || w == to_name) {
            SwitchReason::Returned
        } else {
            SwitchReason::NewDefault
        };
        let short_lived = self.since.elapsed() < Duration::from_millis(SHORT_LIVED_MS);
        // Closed first: some devices (ALSA hardware) take one stream at a
        // time. A loss its error callback reports late is not this stream's.
        let previous = self.live.take();
        let moved_from_working = previous.is_some();
        drop(previous);
        shared.lost.store(false, Ordering::Relaxed);
        match open_on(kind, pulse, (&dev, &to_id), shared) {
            Ok(live) => {
                let streak = self.live.is_none() && short_lived && reason == SwitchReason::Reopened;
                self.failures = if streak { self.failures + 1 } else { 0 };
                self.next_try = Instant::now() + backoff(self.failures);
                self.live = Some(live);
                self.since = Instant::now();
                shared.clear_failure();
                let switch = DeviceSwitch {
                    input: kind.input,
                    from: std::mem::replace(&mut self.name, to_name),
                    to: self.name.clone(),
                    reason,
                };
                self.id = to_id;
                tracing::info!("{switch}");
                // A device that keeps failing is told of once, not every time.
                if self.failures == 0 {
                    shared.switched(&switch);
                }
            }
            Err(e) => {
                tracing::warn!("{}: {e}", kind.what);
                self.failures += 1;
                self.next_try = Instant::now() + backoff(self.failures);
                // A move that failed goes back to the device that worked.
                if moved_from_working {
                    let back = with_host(|host| find(host, kind.input, &self.id));
                    if let Some((dev, id, _)) = back {
                        if let Ok(live) = open_on(kind, pulse, (&dev, &id), shared) {
                            self.live = Some(live);
                            return;
                        }
                    }
                }
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
        SampleFormat::I24 => build_input_typed::<cpal::I24>(dev, config, shared),
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
/// `None`; the default too when absent and not `strict`) and watches it.
pub fn open_input(
    wanted: (Option<String>, bool),
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
    // PulseAudio converts from float to whatever the sink takes (24-bit
    // sinks included).
    let format = if pulse {
        SampleFormat::F32
    } else {
        supported.sample_format()
    };
    let stream = match format {
        SampleFormat::F32 => build_output_typed::<f32>(dev, config, shared),
        SampleFormat::I24 => build_output_typed::<cpal::I24>(dev, config, shared),
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

/// Opens output device `wanted` (as [`open_input`]) and watches it; the
/// device rate is in `shared.rate_hz`.
pub fn open_output(
    wanted: (Option<String>, bool),
    shared: Arc<Shared<f32>>,
) -> Result<StreamThread, MediaError> {
    let kind = Kind {
        input: false,
        what: "speaker",
        build: build_output,
    };
    spawn(kind, wanted, shared)
}
