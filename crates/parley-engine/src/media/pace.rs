//! Real-time pacing shared by the self-paced sources.

use std::time::{Duration, Instant};

/// Sleeps until the next frame of a fixed-rate stream is due.
///
/// Deadlines are absolute (`first + n × period`), so sleep overshoot never
/// accumulates as drift. If the consumer falls more than [`Pacer::MAX_BEHIND`]
/// periods behind, the schedule restarts from now instead of bursting frames.
#[derive(Debug)]
pub(crate) struct Pacer {
    period: Duration,
    next: Option<Instant>,
    paced: bool,
}

impl Pacer {
    /// How many periods late the consumer may be before the schedule restarts.
    const MAX_BEHIND: u32 = 4;

    /// A pacer releasing one frame per `period`; `paced == false` never sleeps.
    pub(crate) fn new(period: Duration, paced: bool) -> Self {
        Self {
            period,
            next: None,
            paced,
        }
    }

    /// Turns pacing on or off (off: [`Pacer::wait`] returns at once; for tests).
    pub(crate) fn set_paced(&mut self, paced: bool) {
        self.paced = paced;
        self.next = None;
    }

    /// Blocks until the next frame is due. The first call returns at once.
    pub(crate) fn wait(&mut self) {
        if !self.paced {
            return;
        }
        let now = Instant::now();
        let due = match self.next {
            None => now,
            Some(due) if now > due + self.period * Self::MAX_BEHIND => now,
            Some(due) => due,
        };
        if due > now {
            std::thread::sleep(due - now);
        }
        self.next = Some(due + self.period);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paces_without_drift() {
        let mut p = Pacer::new(Duration::from_millis(5), true);
        let start = Instant::now();
        for _ in 0..11 {
            p.wait();
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(50), "{took:?}");
        assert!(took < Duration::from_millis(200), "{took:?}");
    }

    #[test]
    fn unpaced_never_sleeps() {
        let mut p = Pacer::new(Duration::from_secs(10), false);
        let start = Instant::now();
        p.wait();
        p.wait();
        assert!(start.elapsed() < Duration::from_secs(1));
    }
}
