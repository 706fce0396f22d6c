//! The one task that talks to the SFU: it owns the [`Sfu`], runs the hub's
//! [`SfuCommand`]s one at a time in the order they were queued, and hands the
//! results back to the hub (through [`Shared`]). Requests to the backend are
//! slow (up to its request timeout each), so they never run under the
//! registry's lock.

use std::collections::HashSet;
use std::sync::Weak;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::hub::SfuCommand;
use crate::server::Shared;
use crate::sfu::{Sfu, SfuError};

/// SFU commands that may wait for the SFU task, a count. A command that finds
/// the queue full is dropped (logged); a room that could not be asked for
/// counts as failed (`sfu_unavailable`), so its call goes on as a mesh.
pub const SFU_COMMAND_QUEUE: usize = 256;

/// The `message` of `sfu_unavailable` when no room could be opened.
const OPEN_FAILED: &str = "the SFU could not open a room";
/// The `message` of `sfu_unavailable` when a member could not be admitted.
const ADMIT_FAILED: &str = "the SFU could not admit a member";

/// Starts the SFU task: it runs `commands` on `sfu` until `shutdown` becomes
/// `true` (or its sender is dropped), the queue closes, or the server's shared
/// state is gone; then it closes the rooms it opened that are still open.
pub(crate) fn spawn(
    sfu: Box<dyn Sfu>,
    shared: Weak<Shared>,
    commands: mpsc::Receiver<SfuCommand>,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(run(sfu, shared, commands, shutdown))
}

async fn run(
    sfu: Box<dyn Sfu>,
    shared: Weak<Shared>,
    mut commands: mpsc::Receiver<SfuCommand>,
    mut shutdown: watch::Receiver<bool>,
) {
    // The rooms opened and not (successfully) closed yet.
    let mut open = HashSet::new();
    loop {
        let command = tokio::select! {
            biased;
            // Ends on `true` or when the server's handle is gone.
            () = async {
                let _ = shutdown.wait_for(|stop| *stop).await;
            } => break,
            command = commands.recv() => match command {
                Some(command) => command,
                None => break,
            },
        };
        let Some(shared) = shared.upgrade() else {
            break;
        };
        execute(&*sfu, &shared, &mut open, command).await;
    }
    for room in open {
        match sfu.close_room(room).await {
            Ok(()) => tracing::debug!(room, "sfu room closed at shutdown"),
            Err(e) => tracing::warn!(room, error = %e, "cannot close an sfu room at shutdown"),
        }
    }
    tracing::debug!("sfu task stopped");
}

/// Runs one command; `open` tracks the rooms opened and not closed.
async fn execute(sfu: &dyn Sfu, shared: &Shared, open: &mut HashSet<u64>, command: SfuCommand) {
    match command {
        SfuCommand::Open {
            call_id,
            max_members,
        } => match sfu.open_room(max_members).await {
            Ok(room) => {
                open.insert(room.room);
                shared.sfu_opened(&call_id, room);
            }
            Err(e) => {
                tracing::warn!(%call_id, error = %e, "cannot open an sfu room");
                shared.sfu_failed(&call_id, None, OPEN_FAILED);
            }
        },
        SfuCommand::Admit {
            call_id,
            room,
            member,
        } => match sfu.admit(room).await {
            Ok(grant) => shared.sfu_admitted(&call_id, room, &member, grant),
            Err(e) => {
                tracing::warn!(%call_id, room, error = %e, "cannot admit a member to an sfu room");
                shared.sfu_failed(&call_id, Some(room), ADMIT_FAILED);
            }
        },
        SfuCommand::Revoke { room, grant } => match sfu.revoke(room, &grant).await {
            Ok(()) => {}
            // The room is closed already: the grant went with it.
            Err(SfuError::NoSuchRoom(_)) => tracing::debug!(room, "revoke in a closed sfu room"),
            Err(e) => tracing::warn!(room, error = %e, "cannot revoke an sfu grant"),
        },
        SfuCommand::Close { room } => match sfu.close_room(room).await {
            Ok(()) => {
                open.remove(&room);
            }
            Err(SfuError::NoSuchRoom(_)) => {
                open.remove(&room);
                tracing::debug!(room, "sfu room closed already");
            }
            // Stays in `open`: tried again at shutdown.
            Err(e) => tracing::warn!(room, error = %e, "cannot close an sfu room"),
        },
    }
}
