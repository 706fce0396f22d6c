//! The one-trigger shutdown signal shared by a call's tasks.

use tokio::sync::watch;

/// Resolves once `stop` holds `true` (or its sender is gone).
///
/// Unlike `watch::Receiver::wait_for`, the future holds no borrow guard, so it is
/// `Send` and can sit in a `tokio::select!` of a spawned task.
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    loop {
        if *stop.borrow_and_update() {
            return;
        }
        if stop.changed().await.is_err() {
            return;
        }
    }
}
