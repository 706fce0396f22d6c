//! Per-address limits: open connections, and failed authentications in a
//! sliding window, so one host cannot exhaust the server or guess at keys fast.
//! Pure: the caller passes the time.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Window over which failed authentications are counted.
pub const AUTH_FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// Addresses with failures kept before expired ones are dropped.
const PRUNE_ABOVE: usize = 4096;

/// Why a new connection from an address is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// It already has this many connections open.
    TooManyConnections(u32),
    /// It failed to authenticate this many times in the window; it may try again
    /// after the given time.
    TooManyFailures(u32, Duration),
}

impl Refusal {
    /// The `message` of the `rate_limited` error (docs/protocol.md §7).
    pub(crate) fn message(&self) -> String {
        match self {
            Refusal::TooManyConnections(n) => {
                format!("too many connections from your address ({n} open)")
            }
            Refusal::TooManyFailures(n, wait) => format!(
                "too many failed sign-ins from your address ({n} in {} s); try again in {} s",
                AUTH_FAILURE_WINDOW.as_secs(),
                wait.as_secs().max(1)
            ),
        }
    }
}

/// Connection and failure counts per address.
#[derive(Debug, Default)]
pub(crate) struct IpLimits {
    open: HashMap<IpAddr, u32>,
    failures: HashMap<IpAddr, VecDeque<Instant>>,
}

impl IpLimits {
    /// Admits a new connection from `ip` (counting it as open) unless it has
    /// `max_open` connections already or `max_failures` failed authentications in
    /// the last [`AUTH_FAILURE_WINDOW`]. A limit of 0 means none.
    pub(crate) fn admit(
        &mut self,
        ip: IpAddr,
        max_open: u32,
        max_failures: u32,
        now: Instant,
    ) -> Result<(), Refusal> {
        if max_failures > 0 {
            if let Some(times) = self.failures.get_mut(&ip) {
                while times
                    .front()
                    .is_some_and(|t| now.saturating_duration_since(*t) >= AUTH_FAILURE_WINDOW)
                {
                    times.pop_front();
                }
                if times.len() >= max_failures as usize {
                    let oldest = *times.front().expect("not empty");
                    let wait = AUTH_FAILURE_WINDOW.saturating_sub(now - oldest);
                    return Err(Refusal::TooManyFailures(times.len() as u32, wait));
                }
                if times.is_empty() {
                    self.failures.remove(&ip);
                }
            }
        }
        let open = self.open.entry(ip).or_default();
        if max_open > 0 && *open >= max_open {
            return Err(Refusal::TooManyConnections(*open));
        }
        *open += 1;
        Ok(())
    }

    /// A connection admitted from `ip` closed.
    pub(crate) fn release(&mut self, ip: IpAddr) {
        if let Some(open) = self.open.get_mut(&ip) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                self.open.remove(&ip);
            }
        }
    }

    /// A connection from `ip` failed to authenticate (bad key, bad signature, or
    /// timed out). Keeps at most `max_failures` times per address.
    pub(crate) fn auth_failed(&mut self, ip: IpAddr, max_failures: u32, now: Instant) {
        if max_failures == 0 {
            return;
        }
        // Addresses that failed once and never came back must not pile up.
        if self.failures.len() >= PRUNE_ABOVE {
            self.failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.saturating_duration_since(*t) < AUTH_FAILURE_WINDOW)
            });
        }
        let times = self.failures.entry(ip).or_default();
        times.push_back(now);
        while times.len() > max_failures.max(1) as usize {
            times.pop_front();
        }
    }

    /// Addresses tracked (for tests: entries do not pile up).
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.open.len() + self.failures.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn open_connections_are_capped_per_address() {
        let (mut l, now) = (IpLimits::default(), Instant::now());
        for _ in 0..3 {
            l.admit(A, 3, 0, now).unwrap();
        }
        assert_eq!(l.admit(A, 3, 0, now), Err(Refusal::TooManyConnections(3)));
        l.admit(B, 3, 0, now).unwrap();
        l.release(A);
        l.admit(A, 3, 0, now).unwrap();
        for _ in 0..3 {
            l.release(A);
        }
        l.release(B);
        assert_eq!(l.tracked(), 0);
    }

    #[test]
    fn addresses_that_never_return_do_not_pile_up() {
        let (mut l, t0) = (IpLimits::default(), Instant::now());
        for i in 0..PRUNE_ABOVE as u32 {
            l.auth_failed(IpAddr::V4(i.into()), 5, t0);
        }
        l.auth_failed(A, 5, t0 + AUTH_FAILURE_WINDOW);
        assert_eq!(l.tracked(), 1);
        l.auth_failed(B, 0, t0);
        assert_eq!(l.tracked(), 1, "no limit, nothing recorded");
    }

    #[test]
    fn failed_sign_ins_lock_out_for_the_rest_of_the_window() {
        let (mut l, t0) = (IpLimits::default(), Instant::now());
        for i in 0..5 {
            l.auth_failed(A, 5, t0 + Duration::from_secs(i));
        }
        let at = t0 + Duration::from_secs(10);
        match l.admit(A, 0, 5, at) {
            Err(Refusal::TooManyFailures(5, wait)) => assert_eq!(wait, Duration::from_secs(50)),
            other => panic!("{other:?}"),
        }
        l.admit(B, 0, 5, at).unwrap();
        // Once the oldest failure leaves the window, one more attempt is allowed.
        l.admit(A, 0, 5, t0 + AUTH_FAILURE_WINDOW).unwrap();
        l.release(A);
        l.release(B);
        assert!(l
            .admit(A, 0, 5, t0 + AUTH_FAILURE_WINDOW + Duration::from_secs(5))
            .is_ok());
        l.release(A);
        assert_eq!(l.tracked(), 0, "{l:?}");
    }
}
