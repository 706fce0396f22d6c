//! Per-connection token bucket. Pure: the caller passes the time.

use std::time::{Duration, Instant};

/// A token bucket refilled at `rate_per_sec` tokens per second, holding at most
/// `burst` tokens; each inbound frame costs one token, and a connection whose
/// bucket is empty is not read until [`TokenBucket::wait`] has passed.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    rate_per_sec: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub(crate) fn new(rate_per_sec: u32, burst: u32, now: Instant) -> TokenBucket {
        TokenBucket {
            rate_per_sec: f64::from(rate_per_sec),
            burst: f64::from(burst),
            tokens: f64::from(burst),
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed_secs = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed_secs * self.rate_per_sec).min(self.burst);
    }

    /// How long until a token is available at `now`; zero when one is.
    pub(crate) fn wait(&mut self, now: Instant) -> Duration {
        self.refill(now);
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - self.tokens) / self.rate_per_sec)
        }
    }

    /// Takes one token if available at `now`; `false` means there is none.
    pub(crate) fn try_take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(10, 3, t0);
        assert!((0..3).all(|_| bucket.try_take(t0)));
        assert!(!bucket.try_take(t0));
        // 100 ms at 10/s refills exactly one token.
        let t1 = t0 + Duration::from_millis(100);
        assert!(bucket.try_take(t1));
        assert!(!bucket.try_take(t1));
        // Long idle refills only up to the burst.
        let t2 = t1 + Duration::from_secs(60);
        assert!((0..3).all(|_| bucket.try_take(t2)));
        assert!(!bucket.try_take(t2));
    }

    #[test]
    fn wait_says_when_the_next_token_comes() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(10, 1, t0);
        assert_eq!(bucket.wait(t0), Duration::ZERO);
        assert!(bucket.try_take(t0));
        let w = bucket.wait(t0);
        assert!((w.as_secs_f64() - 0.1).abs() < 1e-9, "{w:?}");
        let w = bucket.wait(t0 + Duration::from_millis(40));
        assert!((w.as_secs_f64() - 0.06).abs() < 1e-9, "{w:?}");
        assert_eq!(bucket.wait(t0 + Duration::from_millis(100)), Duration::ZERO);
    }

    #[test]
    fn time_going_backwards_is_harmless() {
        let t0 = Instant::now() + Duration::from_secs(1);
        let mut bucket = TokenBucket::new(1, 1, t0);
        assert!(bucket.try_take(t0));
        assert!(!bucket.try_take(t0 - Duration::from_millis(500)));
    }
}
