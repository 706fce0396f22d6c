//! Wayland screen capture through the desktop ScreenCast portal
//! (`org.freedesktop.portal.ScreenCast`, version 4 for restore tokens), with the
//! frames read from the PipeWire stream the portal hands out.
//!
//! On Wayland an application cannot list or grab other windows itself: the portal
//! shows its own dialog, where the user picks a monitor or window. So this backend
//! offers one source, [`PORTAL_ID`], and the session starts on its first capture
//! (which waits, without a time limit, for the user's answer). The session asks for
//! `persist_mode = 2` (until revoked); the restore token the portal returns is kept
//! (`portal_token.rs`) and passed back next time, so the desktop need not ask again.
//! A token the portal rejects outright is forgotten and the user asked instead.
//!
//! All portal work runs on one runtime that lives as long as the process: ashpd
//! keeps one D-Bus connection per process, and its reader task must outlive every
//! session, not only the first.

use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use ashpd::desktop::screencast::{CursorMode, Screencast, SourceType};
use ashpd::desktop::PersistMode;
use futures_util::{Stream, StreamExt};
use tokio::sync::oneshot;

use super::pipewire_stream::{FrameSlot, PipeWireStream};
use super::portal_token;
use super::{RgbaImage, ScreenBackend, ScreenKind, ScreenSourceInfo, PORTAL_ID};
use crate::media::MediaError;

/// How long closing a session may take when sharing stops, ms.
const CLOSE_TIMEOUT_MS: u64 = 2_000;

/// The process-wide runtime for portal calls (one worker thread).
fn portal_runtime() -> Result<&'static tokio::runtime::Runtime, MediaError> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("parley-portal")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| MediaError::Device(format!("screen cast portal: {e}")))
}

fn portal_error(e: ashpd::Error) -> MediaError {
    use ashpd::desktop::ResponseError;
    match e {
        ashpd::Error::Response(ResponseError::Cancelled) => {
            MediaError::Device("screen sharing was cancelled in the system dialog".into())
        }
        ashpd::Error::Response(ResponseError::Other) => {
            MediaError::Device("the desktop refused to share the screen".into())
        }
        ashpd::Error::PortalNotFound(_) => MediaError::Device(
            "this desktop offers no screen sharing portal (install xdg-desktop-portal-gnome, \
             -kde or -wlr for your desktop)"
                .into(),
        ),
        ashpd::Error::Portal(p) => MediaError::Device(format!("screen cast portal: {p}")),
        other => MediaError::Device(format!(
            "screen cast portal unavailable (is xdg-desktop-portal running?): {other}"
        )),
    }
}

/// What a started cast gives the capturing thread.
struct Started {
    fd: OwnedFd,
    node_id: u32,
}

/// Why one attempt failed.
enum CastError {
    /// The portal refused our restore token itself (malformed, or another
    /// implementation's): worth one more try without it.
    TokenRefused(ashpd::Error),
    /// Anything else (including the user's cancel).
    Failed(MediaError),
}

type Closed = Pin<Box<dyn Stream<Item = ()> + Send>>;

/// One attempt: CreateSession, SelectSources (with `token`), Start,
/// OpenPipeWireRemote; then reports the stream and holds the session until
/// `close` fires or the desktop closes it (which fails `slot`, ending the share).
async fn cast_once(
    token: Option<&str>,
    started: &std::sync::mpsc::Sender<Result<Started, MediaError>>,
    close: &mut oneshot::Receiver<()>,
    slot: &FrameSlot,
) -> Result<(), CastError> {
    let failed = |e| CastError::Failed(portal_error(e));
    let proxy = Screencast::new().await.map_err(failed)?;
    let available = proxy
        .available_source_types()
        .await
        .unwrap_or(SourceType::Monitor.into());
    let wanted = available & (SourceType::Monitor | SourceType::Window);
    let types = if wanted.is_empty() {
        SourceType::Monitor.into()
    } else {
        wanted
    };
    let cursor = match proxy.available_cursor_modes().await {
        Ok(modes) if modes.contains(CursorMode::Embedded) => CursorMode::Embedded,
        _ => CursorMode::Hidden,
    };
    let session = proxy.create_session().await.map_err(failed)?;
    // Listen for the desktop's own "stop sharing" before anything can start.
    let mut closed: Option<Closed> = session
        .receive_closed()
        .await
        .ok()
        .map(|s| Box::pin(s) as Closed);

    let steps = async {
        let selected = proxy
            .select_sources(
                &session,
                cursor,
                types,
                false,
                token,
                PersistMode::ExplicitlyRevoked,
            )
            .await;
        let refused = |e: &ashpd::Error| {
            token.is_some()
                && matches!(
                    e,
                    ashpd::Error::Portal(ashpd::PortalError::InvalidArgument(_))
                )
        };
        match selected.and_then(|r| r.response()) {
            Err(e) if refused(&e) => return Err(CastError::TokenRefused(e)),
            Err(e) => return Err(failed(e)),
            Ok(()) => {}
        }
        let streams = proxy
            .start(&session, None)
            .await
            .and_then(|r| r.response())
            .map_err(failed)?;
        let node_id = streams
            .streams()
            .first()
            .map(|s| s.pipe_wire_node_id())
            .ok_or_else(|| {
                CastError::Failed(MediaError::Device(
                    "the screen cast portal returned no stream".into(),
                ))
            })?;
        let fd = proxy
            .open_pipe_wire_remote(&session)
            .await
            .map_err(failed)?;
        Ok((node_id, fd, streams.restore_token().map(str::to_owned)))
    };
    let (node_id, fd, restore_token) = match steps.await {
        Ok(v) => v,
        Err(e) => {
            // Leave no session behind (the desktop's "sharing" indicator).
            let _ = tokio::time::timeout(Duration::from_millis(CLOSE_TIMEOUT_MS), session.close())
                .await;
            return Err(e);
        }
    };
    portal_token::store(restore_token.as_deref());
    tracing::info!(
        node = node_id,
        token_sent = token.is_some(),
        token_received = restore_token.is_some(),
        "screen cast portal session started"
    );
    let _ = started.send(Ok(Started { fd, node_id }));
    let desktop_closed = async {
        match closed.as_mut() {
            Some(s) => {
                s.next().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = close => {
            let _ = tokio::time::timeout(
                Duration::from_millis(CLOSE_TIMEOUT_MS),
                session.close(),
            )
            .await;
        }
        () = desktop_closed => slot.fail("the desktop stopped the screen cast".into()),
    }
    Ok(())
}

/// The whole life of one share on the portal runtime: [`cast_once`], once more
/// without the token if the portal refused it.
async fn run_cast(
    started: std::sync::mpsc::Sender<Result<Started, MediaError>>,
    mut close: oneshot::Receiver<()>,
    slot: Arc<FrameSlot>,
) {
    let mut token = portal_token::load();
    loop {
        match cast_once(token.as_deref(), &started, &mut close, &slot).await {
            Ok(()) => return,
            Err(CastError::TokenRefused(e)) => {
                tracing::info!("screen cast: restore token refused ({e}); asking again");
                portal_token::store(None);
                token = None;
            }
            Err(CastError::Failed(e)) => {
                let _ = started.send(Err(e));
                return;
            }
        }
    }
}

/// A live share: the portal session on the portal runtime (closed on drop), the
/// PipeWire stream on its own thread.
struct Session {
    stream: Option<PipeWireStream>,
    slot: Arc<FrameSlot>,
    close: Option<oneshot::Sender<()>>,
    done: Option<std::sync::mpsc::Receiver<()>>,
}

impl Drop for Session {
    fn drop(&mut self) {
        // Stop reading frames first, then end the portal session (bounded wait).
        self.stream = None;
        if let Some(c) = self.close.take() {
            let _ = c.send(());
        }
        if let Some(done) = self.done.take() {
            let _ = done.recv_timeout(Duration::from_millis(CLOSE_TIMEOUT_MS + 500));
        }
    }
}

impl Session {
    /// Runs the portal's dialog (or restores the last choice) and starts reading
    /// the stream. Blocks until the user answers.
    fn start() -> Result<Self, MediaError> {
        let runtime = portal_runtime()?;
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (close, close_rx) = oneshot::channel::<()>();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let slot = Arc::new(FrameSlot::default());
        let task_slot = slot.clone();
        runtime.spawn(async move {
            run_cast(started_tx, close_rx, task_slot).await;
            let _ = done_tx.send(());
        });
        let started = started_rx
            .recv()
            .map_err(|_| MediaError::Device("screen cast portal task ended".into()))??;
        let mut session = Self {
            stream: None,
            slot: slot.clone(),
            close: Some(close),
            done: Some(done_rx),
        };
        session.stream = Some(PipeWireStream::start(started.fd, started.node_id, slot)?);
        Ok(session)
    }
}

/// The portal backend: one source, one session at a time (started on first capture,
/// ended when the backend is dropped, which is when sharing stops).
#[derive(Default)]
pub(super) struct PortalBackend {
    session: Mutex<Option<Session>>,
}

impl ScreenBackend for PortalBackend {
    fn sources(&self) -> Result<Vec<ScreenSourceInfo>, MediaError> {
        Ok(vec![ScreenSourceInfo {
            id: PORTAL_ID.to_owned(),
            kind: ScreenKind::Monitor,
            name: "Screen or window chosen in the system dialog".to_owned(),
            width: 0,
            height: 0,
            primary: true,
        }])
    }

    fn capture(&self, id: &str) -> Result<RgbaImage, MediaError> {
        if id != PORTAL_ID {
            return Err(MediaError::Device(format!(
                "{id} cannot be captured on Wayland; share {PORTAL_ID:?} and pick it in the system dialog"
            )));
        }
        let mut guard = self.session.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            *guard = Some(Session::start()?);
        }
        let result = guard.as_ref().map(|s| s.slot.latest());
        match result {
            Some(Ok(image)) => Ok(image),
            Some(Err(e)) => {
                // A dead stream: end the session so the next capture starts afresh.
                *guard = None;
                Err(e)
            }
            None => Err(MediaError::Device("screen cast session missing".into())),
        }
    }

    fn previewable(&self, _id: &str) -> bool {
        // A preview would open the portal's dialog from the picker.
        false
    }
}
