//! Process-wide leases on partial files: two transfers received at once (from one
//! peer, or from two peers in two calls) never write the same
//! `.<name>.parley-part`, which would splice two files into one.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::Notify;

/// The part files being written now, by key (see [`key`]).
fn leased() -> &'static Mutex<HashSet<String>> {
    static LEASED: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    LEASED.get_or_init(|| Mutex::new(HashSet::new()))
}

/// Woken whenever a lease is released.
fn released() -> &'static Notify {
    static RELEASED: OnceLock<Notify> = OnceLock::new();
    RELEASED.get_or_init(Notify::new)
}

/// The lease key of `part`: its path, lowercased, so that two names differing
/// only in case (one file on a case-insensitive disk) share one lease.
fn key(part: &Path) -> String {
    part.to_string_lossy().to_lowercase()
}

/// Exclusive use of one part file while a transfer writes or finishes it;
/// released when dropped.
#[derive(Debug)]
pub(super) struct PartLease {
    key: String,
}

impl PartLease {
    /// Takes the lease on `part`, or `None` if another transfer holds it.
    pub(super) fn take(part: &Path) -> Option<PartLease> {
        let key = key(part);
        let mut set = leased().lock().unwrap_or_else(|p| p.into_inner());
        // Not `then_some`: a lease made and dropped here would release the
        // holder's key (and lock the set twice).
        if set.insert(key.clone()) {
            Some(PartLease { key })
        } else {
            None
        }
    }

    /// Takes the lease on `part`, waiting up to `within` for its holder to
    /// release it; `None` if it is still held then.
    pub(super) async fn take_within(part: &Path, within: Duration) -> Option<PartLease> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            // Registered before the attempt, so a release in between wakes it.
            let notified = released().notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(lease) = Self::take(part) {
                return Some(lease);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Self::take(part);
            }
        }
    }

    /// Whether `a` and `b` are one part file as leases see it (case folded).
    pub(super) fn same_part(a: &Path, b: &Path) -> bool {
        key(a) == key(b)
    }

    /// The part file of `leaf` in `dir`, as [`super::disk::prepare_part`] names it.
    pub(super) fn part_path(dir: &Path, leaf: &str) -> PathBuf {
        dir.join(format!(".{leaf}{}", super::receive::PART_SUFFIX))
    }
}

impl Drop for PartLease {
    fn drop(&mut self) {
        let mut set = leased().lock().unwrap_or_else(|p| p.into_inner());
        set.remove(&self.key);
        drop(set);
        released().notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_per_part_case_folded_and_released_on_drop() {
        let dir = std::env::temp_dir().join(format!("lease-{}", rand::random::<u64>()));
        let a = PartLease::take(&PartLease::part_path(&dir, "Report.pdf")).expect("free");
        assert!(PartLease::take(&PartLease::part_path(&dir, "report.PDF")).is_none());
        let b = PartLease::take(&PartLease::part_path(&dir, "other.pdf"));
        assert!(b.is_some());
        drop(a);
        assert!(PartLease::take(&PartLease::part_path(&dir, "report.pdf")).is_some());
    }

    #[tokio::test]
    async fn a_waiter_gets_the_lease_once_it_is_released_and_not_before() {
        let dir = std::env::temp_dir().join(format!("lease-{}", rand::random::<u64>()));
        let part = PartLease::part_path(&dir, "movie.mkv");
        let held = PartLease::take(&part).expect("free");
        // Still held when the wait ends: none.
        let short = PartLease::take_within(&part, Duration::from_millis(20)).await;
        assert!(short.is_none());
        let waiter = tokio::spawn({
            let part = part.clone();
            async move { PartLease::take_within(&part, Duration::from_secs(10)).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "got a lease that was held");
        drop(held);
        let got = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("woken by the release")
            .unwrap();
        assert!(got.is_some());
    }
}
