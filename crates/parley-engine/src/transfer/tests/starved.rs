//! A large file's disk threads are idle-class; when other programs keep every
//! core busy they fall behind, and their work moves to fair-share threads, so
//! the file still arrives whole and at a fair pace.

use std::sync::atomic::{AtomicBool, Ordering};

use super::*;
use crate::transfer::background::MOVED;

/// Busy threads at normal priority, one more than the cores, until dropped:
/// an idle-class thread then gets next to no CPU.
struct Hogs {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Hogs {
    fn start() -> Hogs {
        let stop = Arc::new(AtomicBool::new(false));
        let n = std::thread::available_parallelism().map_or(2, |n| n.get()) + 1;
        let threads = (0..n)
            .map(|_| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    let mut x = 1u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005) | 1);
                    }
                })
            })
            .collect();
        Hogs { stop, threads }
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_file_sent_while_other_programs_keep_the_cores_busy_arrives() {
    let src = tempfile::tempdir().unwrap();
    let dst = tempfile::tempdir().unwrap();
    let data = random_bytes(24 * MIB + 7);
    let path = write_file(src.path(), "big.bin", &data);
    let mut peers = Peers::new(Some(dst.path().to_path_buf()));
    let hogs = Hogs::start();
    let outcome = peers.send(&path).await.unwrap();
    drop(hogs);
    assert_eq!(outcome.blake3, blake3_hex(&data));
    assert_eq!(std::fs::read(dst.path().join("big.bin")).unwrap(), data);
    // Both the sender's reader and the receiver's writer kept the transfer
    // waiting under SCHED_IDLE, and fair-share threads went on.
    let moved = MOVED.lock().unwrap().clone();
    assert!(moved.contains(&path), "the reader: {moved:?}");
    let part = dst.path().join(".big.bin.parley-part");
    assert!(moved.contains(&part), "the writer: {moved:?}");
}
