//! Handing decoded frames to a renderer: one slot, latest frame wins.
//!
//! A renderer (the desktop UI) takes frames at its own pace; the decoder never waits
//! for it and never queues more than one frame, so a slow renderer shows the newest
//! picture instead of falling ever further behind.

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::call::VideoSink;
use crate::media::{I420Frame, MediaError, VideoSource};

/// A single-frame mailbox. Cloning shares it.
#[derive(Clone, Default)]
pub struct FrameSlot {
    inner: Arc<(Mutex<Option<I420Frame>>, Notify)>,
}

impl FrameSlot {
    /// An empty slot.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the waiting frame (if any) with `frame` and wakes the reader.
    pub fn put(&self, frame: I420Frame) {
        *self.inner.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(frame);
        self.inner.1.notify_one();
    }

    /// Takes the waiting frame, if any.
    pub fn take(&self) -> Option<I420Frame> {
        self.inner
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// True when another handle to this slot exists (a reader still waits on it).
    pub(crate) fn is_shared(&self) -> bool {
        Arc::strong_count(&self.inner) > 1
    }

    /// Waits for the next frame.
    pub async fn next(&self) -> I420Frame {
        loop {
            if let Some(f) = self.take() {
                return f;
            }
            self.inner.1.notified().await;
        }
    }
}

impl VideoSink for FrameSlot {
    fn frame(&mut self, frame: &I420Frame) -> crate::Result<()> {
        self.put(frame.clone());
        Ok(())
    }
}

/// A video source that also shows each captured frame in a [`FrameSlot`] (the local
/// preview).
pub struct PreviewSource {
    inner: Box<dyn VideoSource>,
    preview: FrameSlot,
}

impl PreviewSource {
    /// Wraps `inner`; every frame it yields is also put into `preview`.
    pub fn new(inner: Box<dyn VideoSource>, preview: FrameSlot) -> Self {
        Self { inner, preview }
    }
}

impl VideoSource for PreviewSource {
    fn width(&self) -> u32 {
        self.inner.width()
    }
    fn height(&self) -> u32 {
        self.inner.height()
    }
    fn fps(&self) -> f64 {
        self.inner.fps()
    }
    fn next_frame(&mut self) -> Result<I420Frame, MediaError> {
        let f = self.inner.next_frame()?;
        self.preview.put(f.clone());
        Ok(f)
    }
}
