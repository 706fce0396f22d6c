//! When to share the screen in a command-line call: `--share-at` seconds after
//! connecting, stop `--share-for` seconds later (the call goes on).

use std::time::Duration;

use anyhow::Result;
use parley_engine::call::{CallCommand, ScreenFeed};
use parley_engine::media::VideoSource;
use tokio::time::Instant;

use crate::args::CallArgs;
use crate::session::wait_secs;

/// The screen to share and the schedule; idle when there is nothing to share.
pub struct ScreenPlan {
    source: Option<Box<dyn VideoSource>>,
    start_after: Duration,
    share_for: Option<Duration>,
    start: Option<Instant>,
    stop: Option<Instant>,
}

impl ScreenPlan {
    /// Opens the screen named by `--share-screen`, if any.
    ///
    /// Errors: no display, no such monitor or window, capture refused.
    pub fn new(a: &CallArgs) -> Result<Self> {
        Ok(Self {
            source: crate::media::screen_source(a)?,
            start_after: wait_secs(a.share_at),
            share_for: a.share_for.map(wait_secs),
            start: None,
            stop: None,
        })
    }

    /// The call is connected: the schedule starts now.
    pub fn connected(&mut self) {
        if self.source.is_some() && self.start.is_none() {
            self.start = Some(Instant::now() + self.start_after);
        }
    }

    /// Whether a start or stop is still to come.
    pub fn pending(&self) -> bool {
        self.start.is_some() || self.stop.is_some()
    }

    /// Waits for the next start or stop and returns the command for it; never
    /// returns when nothing is [`pending`](Self::pending). Cancel-safe.
    pub async fn due(&mut self) -> CallCommand {
        let Some(when) = self.start.or(self.stop) else {
            return std::future::pending().await;
        };
        tokio::time::sleep_until(when).await;
        if self.start.take().is_some() {
            if let Some(source) = self.source.take() {
                self.stop = self.share_for.map(|d| Instant::now() + d);
                eprintln!("screen sharing started");
                return CallCommand::ShareScreen(ScreenFeed(source));
            }
        }
        self.stop = None;
        eprintln!("screen sharing stopped");
        CallCommand::StopScreenShare
    }
}
