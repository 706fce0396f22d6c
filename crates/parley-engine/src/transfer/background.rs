//! How a transfer's disk and hashing threads are scheduled: as batch work.
//!
//! The sender's reader (read + BLAKE3) and the receiver's writer (BLAKE3 +
//! write) wake once per block and then run for a while; each wake used to
//! preempt whichever thread held the core, often the peer connection's event
//! loop, which carries the data channel and is bounded by its handoffs, not by
//! CPU. Linux's `SCHED_BATCH` (sched(7)) keeps a thread's fair share but does
//! not preempt on wake-up: on two cores a 512 MiB transfer's median ratio to the
//! raw data channel went from 0.79–0.83 to 0.86 (BENCHMARKS.md, "File
//! transfer: what bounds it"). `SCHED_IDLE` did a little better but starves a
//! transfer whenever another program keeps the cores busy, so it is not used.

/// Puts the calling thread under `SCHED_BATCH` until dropped, then back under
/// `SCHED_OTHER` (the thread is one of tokio's pooled blocking threads and
/// runs other work later). Best effort: a refusal is logged at debug level and
/// changes nothing; a no-op off Linux.
pub(super) struct BatchScheduling {
    #[cfg(target_os = "linux")]
    entered: bool,
}

impl BatchScheduling {
    /// Enters `SCHED_BATCH` for the calling thread.
    pub(super) fn enter() -> Self {
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
