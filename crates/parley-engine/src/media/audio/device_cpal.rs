//! cpal 0.18 backend of [`super::MicSource`] and [`super::SpeakerSink`].

use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{Device, FromSample, SampleFormat, SizedSample, StreamConfig};

use super::{AudioDeviceInfo, Framer, Shared};
use crate::media::audio::{downmix, StreamResampler, SAMPLE_RATE_HZ};
use crate::media::MediaError;

fn devices(input: bool) -> Vec<Device> {
    let host = cpal::default_host();
    let found = if input {
        host.input_devices().map(|d| d.collect::<Vec<_>>())
    } else {
        host.output_devices().map(|d| d.collect::<Vec<_>>())
    };
    found.unwrap_or_default()
}

pub fn list(input: bool) -> Vec<AudioDeviceInfo> {
    devices(input)
        .into_iter()
        .enumerate()
        .map(|(index, d)| AudioDeviceInfo {
            index,
            name: d
                .description()
                .map(|desc| desc.name().to_string())
                .unwrap_or_else(|_| d.to_string()),
        })
        .collect()
}

fn pick(index: Option<usize>, input: bool) -> Result<Device, MediaError> {
    let kind = if input { "audio input" } else { "audio output" };
    let dev = match index {
        Some(i) => devices(input).into_iter().nth(i),
        None if input => cpal::default_host().default_input_device(),
        None => cpal::default_host().default_output_device(),
    };
    dev.ok_or(MediaError::NoDevice { kind })
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

/// Spawns the owner thread: `build` runs on it and returns the stream plus a
/// value reported back to the caller; the stream lives until the handle drops.
fn spawn<R: Send + 'static>(
    name: &str,
    build: impl FnOnce() -> Result<(cpal::Stream, R), MediaError> + Send + 'static,
) -> Result<(StreamThread, R), MediaError> {
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<R, MediaError>>(1);
    let handle = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || match build() {
            Ok((stream, r)) => {
                if let Err(e) = stream.play() {
                    let _ = ready_tx.send(Err(MediaError::Device(format!("start: {e}"))));
                    return;
                }
                let _ = ready_tx.send(Ok(r));
                // Returns when the handle drops the sender.
                let _ = stop_rx.recv();
                drop(stream);
            }
            Err(e) => {
                let _ = ready_tx.send(Err(e));
            }
        })
        .map_err(|e| MediaError::Device(format!("spawn {name}: {e}")))?;
    let thread = StreamThread {
        stop: Some(stop_tx),
        handle: Some(handle),
    };
    match ready_rx.recv() {
        Ok(Ok(r)) => Ok((thread, r)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(MediaError::Device(format!("{name} thread died"))),
    }
}

/// A stream's error. Passing trouble is logged and the stream goes on: an
/// xrun, a busy or rerouted device, a refused real-time priority, and a
/// backend error (the ALSA PulseAudio plugin's `EIO` from
/// `snd_pcm_avail_delay` while the server has no timing yet,
/// alsa-project/alsa-plugins#65, after which ALSA streams play on). Anything
/// else (the device or host gone, the stream invalidated, access denied)
/// ends it: the sink or source then reports the failure.
fn stream_error<T>(shared: &Shared<T>, what: &str, e: cpal::Error) {
    use cpal::ErrorKind as K;
    match e.kind() {
        K::Xrun | K::DeviceBusy | K::DeviceChanged | K::RealtimeDenied | K::BackendError => {
            tracing::debug!("{what}: {e}");
        }
        _ => shared.fail(format!("{what}: {e}")),
    }
}

fn dev_err(what: &str) -> impl Fn(cpal::Error) -> MediaError + '_ {
    move |e| MediaError::Device(format!("{what}: {e}"))
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

pub fn open_input(
    index: Option<usize>,
    shared: Arc<Shared<Vec<f32>>>,
) -> Result<StreamThread, MediaError> {
    let (thread, ()) = spawn("parley-mic", move || {
        let dev = pick(index, true)?;
        let supported = dev
            .default_input_config()
            .map_err(dev_err("microphone config"))?;
        let config = supported.config();
        let stream = match supported.sample_format() {
            SampleFormat::F32 => build_input_typed::<f32>(&dev, config, shared),
            SampleFormat::F64 => build_input_typed::<f64>(&dev, config, shared),
            SampleFormat::I16 => build_input_typed::<i16>(&dev, config, shared),
            SampleFormat::U16 => build_input_typed::<u16>(&dev, config, shared),
            SampleFormat::I32 => build_input_typed::<i32>(&dev, config, shared),
            SampleFormat::I8 => build_input_typed::<i8>(&dev, config, shared),
            SampleFormat::U8 => build_input_typed::<u8>(&dev, config, shared),
            other => Err(MediaError::Device(format!(
                "microphone sample format {other:?} unsupported"
            ))),
        }?;
        Ok((stream, ()))
    })?;
    Ok(thread)
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
                tap(&played);
            }
        },
        move |e| stream_error(&err_shared, "speaker", e),
        None,
    )
    .map_err(dev_err("open speaker"))
}

pub fn open_output(
    index: Option<usize>,
    shared: Arc<Shared<f32>>,
) -> Result<(StreamThread, u32), MediaError> {
    spawn("parley-speaker", move || {
        let dev = pick(index, false)?;
        let supported = dev
            .default_output_config()
            .map_err(dev_err("speaker config"))?;
        let config = supported.config();
        let stream = match supported.sample_format() {
            SampleFormat::F32 => build_output_typed::<f32>(&dev, config, shared),
            SampleFormat::F64 => build_output_typed::<f64>(&dev, config, shared),
            SampleFormat::I16 => build_output_typed::<i16>(&dev, config, shared),
            SampleFormat::U16 => build_output_typed::<u16>(&dev, config, shared),
            SampleFormat::I32 => build_output_typed::<i32>(&dev, config, shared),
            SampleFormat::I8 => build_output_typed::<i8>(&dev, config, shared),
            SampleFormat::U8 => build_output_typed::<u8>(&dev, config, shared),
            other => Err(MediaError::Device(format!(
                "speaker sample format {other:?} unsupported"
            ))),
        }?;
        Ok((stream, config.sample_rate))
    })
}
