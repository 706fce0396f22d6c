//! Where a transfer's disk and hashing threads run.
//!
//! The sender's reader (read + BLAKE3) and the receiver's writer (BLAKE3 +
//! write) wake once per block and then run for a while, on two cores that the
//! peer connection's event loop already keeps busy; that loop carries the
//! data channel and is bounded by its handoffs, not by CPU, so every moment it
//! waits for a core slows the transfer.
//!
//! - A file of [`IDLE_FROM_BYTES`] or more gets a thread of its own under
//!   Linux's `SCHED_IDLE` (sched(7)), which runs only on time nothing else
//!   wants: on two cores a 1 GiB transfer's ratio to the raw data channel went
//!   from 0.85–0.87 to 0.90–0.95 (BENCHMARKS.md). Such a thread gets about
//!   0.3 % of a core when another program keeps the cores busy, and without
//!   `CAP_SYS_NICE` it cannot leave `SCHED_IDLE` again; so when it keeps the
//!   transfer waiting ([`Starvation`]), the rest of the file goes to a
//!   fair-share thread ([`DiskClass::Batch`]) at once, from the first block
//!   the starved thread did not hand over (the reader) or report written (the
//!   writer; each block is hashed on its own,
//!   [`parley_proto::file_hash::HashedBlock`]), and the starved thread is left
//!   to stop when it next runs.
//! - Smaller files, other systems, and moved work run on tokio's pooled
//!   blocking threads under `SCHED_BATCH`, which keeps a thread's fair share
//!   but does not preempt on wake-up (0.79–0.83 → 0.86 at the time).

use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Files from this size (bytes still to move) get an idle-class disk thread:
/// 8 MiB, eight blocks. Below it a thread of its own is not worth starting.
pub(super) const IDLE_FROM_BYTES: u64 = 8 << 20;

/// How long the sender waits for its idle-class reader's next block, or the
/// receiver (its write-behind full, or finishing) for its idle-class writer
/// to report a block written, before the thread counts as starved and the
/// rest of the file goes to a fair-share thread: 25 ms. A block takes about
/// 1 ms of CPU, and with the cores to itself the transfer waited at most 6 ms
/// at once for either thread (1 GiB on the reference machine). A slow disk
/// that trips this costs little: the work moves to where all of it ran
/// before, and a block the old writer was writing may be written twice, with
/// the same bytes.
pub(super) const STARVED_AFTER: Duration = Duration::from_millis(25);

/// Waits that add up to this much, and to [`STARVED_SHARE`] of the time since
/// the thread started, count as starved too: 100 ms.
const STARVED_IN_ALL: Duration = Duration::from_millis(100);

/// The share of the time, 1/5. With the cores to itself the transfer waited
/// for its idle-class threads at most 11 % of the time (the writer, when chat
/// messages are interleaved; under 2 % otherwise).
const STARVED_SHARE: u32 = 5;

/// Tells when an idle-class disk thread keeps its transfer waiting too much
/// (other programs take the cores it would run on): waits for it that add up
/// to [`STARVED_IN_ALL`] and to [`STARVED_SHARE`] of the time since it
/// started. A single wait of [`STARVED_AFTER`] is caught by the caller's
/// timeout.
#[derive(Debug)]
pub(super) struct Starvation {
    since: Instant,
    waited: Duration,
}

impl Starvation {
    /// Starts counting now.
    pub(super) fn new() -> Starvation {
        Starvation {
            since: Instant::now(),
            waited: Duration::ZERO,
        }
    }

    /// Adds a wait of `wait`; `true` if the thread now counts as starved.
    pub(super) fn waited(&mut self, wait: Duration) -> bool {
        self.waited += wait;
        self.waited >= STARVED_IN_ALL && self.waited * STARVED_SHARE >= self.since.elapsed()
    }
}

/// The kind of thread a transfer's disk work runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DiskClass {
    /// A thread of its own under `SCHED_IDLE` (Linux only).
    Idle,
    /// One of tokio's pooled blocking threads under `SCHED_BATCH`.
    Batch,
}

impl DiskClass {
    /// The class for a file with `bytes` still to move: [`DiskClass::Idle`]
    /// from [`IDLE_FROM_BYTES`] on Linux, else [`DiskClass::Batch`].
    pub(super) fn for_bytes(bytes: u64) -> DiskClass {
        if cfg!(target_os = "linux") && bytes >= IDLE_FROM_BYTES {
            DiskClass::Idle
        } else {
            DiskClass::Batch
        }
    }
}

/// Disk work running on a thread of its [`DiskClass`]; [`join`](Self::join)
/// waits for its result.
pub(super) enum DiskTask<T> {
    Pooled(JoinHandle<T>),
    Own(oneshot::Receiver<T>),
    /// The thread could not be started.
    NotStarted(String),
}

impl<T> std::fmt::Debug for DiskTask<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DiskTask::Pooled(_) => "DiskTask::Pooled",
            DiskTask::Own(_) => "DiskTask::Own",
            DiskTask::NotStarted(_) => "DiskTask::NotStarted",
        })
    }
}

impl<T> DiskTask<T> {
    /// The work's result.
    ///
    /// Errors: the thread panicked, or could not be started (the reason).
    pub(super) async fn join(self) -> Result<T, String> {
        match self {
            DiskTask::Pooled(handle) => handle.await.map_err(|e| e.to_string()),
            DiskTask::Own(rx) => rx
                .await
                .map_err(|_| "the disk thread stopped without a result".to_string()),
            DiskTask::NotStarted(reason) => Err(reason),
        }
    }
}

/// Runs `work` on a thread of `class` (see the module docs).
pub(super) fn spawn_disk<T, F>(class: DiskClass, work: F) -> DiskTask<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match class {
        DiskClass::Batch => DiskTask::Pooled(tokio::task::spawn_blocking(move || {
            let _batch = BatchScheduling::enter();
            work()
        })),
        DiskClass::Idle => {
            let (tx, rx) = oneshot::channel();
            let spawned = std::thread::Builder::new()
                .name("parley-disk".into())
                .spawn(move || {
                    #[cfg(target_os = "linux")]
                    set_policy(thread_priority::NormalThreadSchedulePolicy::Idle);
                    let _ = tx.send(work());
                });
            match spawned {
                Ok(_) => DiskTask::Own(rx),
                Err(e) => DiskTask::NotStarted(format!("starting a disk thread: {e}")),
            }
        }
    }
}

/// The files whose disk work moved off `SCHED_IDLE` because it kept the
/// transfer waiting: the sender's source file (the reader), the receiver's
/// temp file (the writer).
#[cfg(test)]
pub(super) static MOVED: std::sync::Mutex<Vec<std::path::PathBuf>> =
    std::sync::Mutex::new(Vec::new());

/// Notes that `what` (the reader, the writer) of the file at `path` moved to a
/// fair-share thread.
pub(super) fn note_moved(what: &str, path: &std::path::Path) {
    #[cfg(test)]
    MOVED.lock().expect("moved").push(path.to_path_buf());
    tracing::debug!(path = %path.display(), "the {what} kept the transfer waiting under SCHED_IDLE; a batch thread goes on");
}

/// Puts the calling thread under `SCHED_BATCH` until dropped, then back under
/// `SCHED_OTHER` (the thread is one of tokio's pooled blocking threads and
/// runs other work later). Best effort: a refusal is logged at debug level and
/// changes nothing; a no-op off Linux.
struct BatchScheduling {
    #[cfg(target_os = "linux")]
    entered: bool,
}

impl BatchScheduling {
    /// Enters `SCHED_BATCH` for the calling thread.
    fn enter() -> Self {
        #[cfg(target_os = "linux")]
        {
            use thread_priority::NormalThreadSchedulePolicy::Batch;
            let entered = set_policy(Batch);
            Self { entered }
        }
        #[cfg(not(target_os = "linux"))]
        Self {}
    }
}

#[cfg(target_os = "linux")]
impl Drop for BatchScheduling {
    fn drop(&mut self) {
        if self.entered {
            set_policy(thread_priority::NormalThreadSchedulePolicy::Other);
        }
    }
}

/// Sets the calling thread's normal scheduling policy; `true` if the thread
/// is under it now. The crate also asks for nice 0, which a process started
/// with a higher nice value may not have: the policy is set all the same, so
/// success is read back rather than taken from the call.
#[cfg(target_os = "linux")]
fn set_policy(policy: thread_priority::NormalThreadSchedulePolicy) -> bool {
    use thread_priority::{ThreadPriority, ThreadPriorityOsValue, ThreadSchedulePolicy};
    let wanted = ThreadSchedulePolicy::Normal(policy);
    if let Err(e) = thread_priority::unix::set_thread_priority_and_policy(
        thread_priority::unix::thread_native_id(),
        ThreadPriority::Os(ThreadPriorityOsValue::default()),
        wanted,
    ) {
        tracing::debug!(?policy, "thread scheduling: {e:?}");
    }
    thread_priority::unix::thread_schedule_policy().is_ok_and(|p| p == wanted)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use thread_priority::{NormalThreadSchedulePolicy, ThreadSchedulePolicy};

    fn policy() -> ThreadSchedulePolicy {
        thread_priority::unix::thread_schedule_policy().expect("policy")
    }

    #[tokio::test]
    async fn each_class_runs_its_work_under_its_policy() {
        let idle = spawn_disk(DiskClass::Idle, policy).join().await.unwrap();
        assert_eq!(
            idle,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle)
        );
        let batch = spawn_disk(DiskClass::Batch, policy).join().await.unwrap();
        assert_eq!(
            batch,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch)
        );
        assert_eq!(DiskClass::for_bytes(IDLE_FROM_BYTES - 1), DiskClass::Batch);
        assert_eq!(DiskClass::for_bytes(IDLE_FROM_BYTES), DiskClass::Idle);
    }

    #[test]
    fn the_thread_is_batch_work_while_the_guard_lives() {
        std::thread::spawn(|| {
            let guard = BatchScheduling::enter();
            assert_eq!(
                policy(),
                ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch)
            );
            drop(guard);
            assert_eq!(
                policy(),
                ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other)
            );
        })
        .join()
        .expect("the test thread");
    }
}
