//! Wayland screen capture through the desktop ScreenCast portal
//! (`org.freedesktop.portal.ScreenCast`, version 4 for restore tokens), with the
//! frames read from the PipeWire stream the portal hands out.
//!
//! On Wayland an application cannot list or grab other windows itself: the portal
//! shows its own dialog, where the user picks a monitor or window. So this backend
//! offers one source, [`PORTAL_ID`], and the session starts on its first capture.
//! The session asks for `persist_mode = 2` (until revoked); the restore token the
//! portal returns is kept in `$XDG_STATE_HOME/parley/screencast-restore-token` and
//! passed back next time, so the user is not asked again every call. Tokens are
//! single-use: each start stores the new one, and a refused token is dropped.

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ashpd::desktop::screencast::{CursorMode, Screencast, SourceType, Streams};
use ashpd::desktop::PersistMode;

use futures_util::StreamExt;

use super::pipewire_stream::{FrameSlot, PipeWireStream};
use super::{RgbaImage, ScreenBackend, ScreenKind, ScreenSourceInfo};
use crate::media::MediaError;

/// The one source this backend lists: whatever the user picks in the portal.
pub const PORTAL_ID: &str = "portal";

/// Where the restore token lives: `$XDG_STATE_HOME/parley/screencast-restore-token`
/// (`~/.local/state/…` when unset). A token names the user's choice on this
/// desktop, so it is per OS user, not per Parley profile.
pub fn restore_token_path() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(state.join("parley").join("screencast-restore-token"))
}

fn load_token() -> Option<String> {
    let text = std::fs::read_to_string(restore_token_path()?).ok()?;
    let token = text.trim();
    // Portal tokens are UUID-like; anything long or odd is not ours to send.
    (!token.is_empty() && token.len() <= 256 && token.chars().all(|c| c.is_ascii_graphic()))
        .then(|| token.to_owned())
}

fn store_token(token: Option<&str>) {
    let Some(path) = restore_token_path() else {
        return;
    };
    let result = match token {
        None => match std::fs::remove_file(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        },
        Some(t) => (|| {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, t)?;
            std::fs::rename(&tmp, &path)
        })(),
    };
    if let Err(e) = result {
        tracing::warn!("screen cast restore token {}: {e}", path.display());
    }
}

/// What a started portal session gives us.
struct Started {
    fd: OwnedFd,
    node_id: u32,
    restore_token: Option<String>,
    token_sent: bool,
}

/// A live portal session: the D-Bus side on one thread (closed on drop), the
/// PipeWire stream on another.
struct Session {
    stream: PipeWireStream,
    close: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(c) = self.close.take() {
            let _ = c.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn portal_error(e: ashpd::Error) -> MediaError {
    match e {
        ashpd::Error::Response(ashpd::desktop::ResponseError::Cancelled) => {
            MediaError::Device("screen sharing was cancelled in the system dialog".into())
        }
        ashpd::Error::Response(other) => {
            MediaError::Device(format!("the screen cast portal refused: {other}"))
        }
        ashpd::Error::Portal(p) => MediaError::Device(format!("screen cast portal: {p}")),
        other => MediaError::Device(format!(
            "screen cast portal unavailable (is xdg-desktop-portal running?): {other}"
        )),
    }
}

/// The portal handshake (CreateSession, SelectSources, Start, OpenPipeWireRemote)
/// on the calling thread's runtime.
async fn handshake(
    token: Option<&str>,
) -> Result<
    (
        Streams,
        OwnedFd,
        ashpd::desktop::Session<'static, Screencast<'static>>,
    ),
    ashpd::Error,
> {
    let proxy = Screencast::new().await?;
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
    let session = proxy.create_session().await?;
    proxy
        .select_sources(
            &session,
            cursor,
            types,
            false,
            token,
            PersistMode::ExplicitlyRevoked,
        )
        .await?
        .response()?;
    let streams = proxy.start(&session, None).await?.response()?;
    let fd = proxy.open_pipe_wire_remote(&session).await?;
    Ok((streams, fd, session))
}

fn cancelled(e: &ashpd::Error) -> bool {
    matches!(
        e,
        ashpd::Error::Response(ashpd::desktop::ResponseError::Cancelled)
    )
}

/// [`handshake`] with the stored token; a token the portal rejects outright
/// (malformed, or from another portal implementation) is dropped and the user is
/// asked instead. A token the portal merely does not know any more is handled by
/// the portal itself (it asks).
async fn start_cast(
    token: Option<String>,
) -> Result<
    (
        Started,
        ashpd::desktop::Session<'static, Screencast<'static>>,
    ),
    MediaError,
> {
    let mut token_sent = token.is_some();
    let result = match handshake(token.as_deref()).await {
        Err(e) if token.is_some() && !cancelled(&e) => {
            tracing::info!("screen cast: restore token refused ({e}); asking again");
            token_sent = false;
            handshake(None).await
        }
        other => other,
    };
    let (streams, fd, session) = result.map_err(portal_error)?;
    let stream = streams
        .streams()
        .first()
        .ok_or_else(|| MediaError::Device("the screen cast portal returned no stream".into()))?;
    Ok((
        Started {
            fd,
            node_id: stream.pipe_wire_node_id(),
            restore_token: streams.restore_token().map(str::to_owned),
            token_sent,
        },
        session,
    ))
}

impl Session {
    fn start() -> Result<Self, MediaError> {
        let token = load_token();
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (close, close_rx) = tokio::sync::oneshot::channel::<()>();
        let slot = Arc::new(FrameSlot::default());
        let stream_slot = slot.clone();
        let thread = std::thread::Builder::new()
            .name("parley-portal".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = started_tx.send(Err(MediaError::Device(e.to_string())));
                        return;
                    }
                };
                rt.block_on(async move {
                    match start_cast(token).await {
                        Ok((started, session)) => {
                            let _ = started_tx.send(Ok(started));
                            // Hold the session (and the D-Bus connection) until dropped,
                            // or until the desktop ends it (its own "stop sharing"
                            // control): then end the share rather than repeat the last
                            // picture.
                            let closed = async {
                                match session.receive_closed().await {
                                    Ok(mut s) => {
                                        s.next().await;
                                    }
                                    Err(_) => std::future::pending::<()>().await,
                                }
                            };
                            tokio::select! {
                                _ = close_rx => { let _ = session.close().await; }
                                () = closed => {
                                    slot.fail("the desktop stopped the screen cast".into());
                                }
                            }
                        }
                        Err(e) => {
                            let _ = started_tx.send(Err(e));
                        }
                    }
                });
            })
            .map_err(|e| MediaError::Device(format!("screen cast portal thread: {e}")))?;
        let started = match started_rx.recv() {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = thread.join();
                return Err(MediaError::Device("screen cast portal thread died".into()));
            }
        };
        store_token(started.restore_token.as_deref());
        tracing::info!(
            node = started.node_id,
            token_sent = started.token_sent,
            token_received = started.restore_token.is_some(),
            "screen cast portal session started"
        );
        let stream = PipeWireStream::start(started.fd, started.node_id, stream_slot)?;
        Ok(Self {
            stream,
            close: Some(close),
            thread: Some(thread),
        })
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
        let remembered = load_token().is_some();
        Ok(vec![ScreenSourceInfo {
            id: PORTAL_ID.to_owned(),
            kind: ScreenKind::Monitor,
            name: if remembered {
                "The screen you shared last time (system dialog)".to_owned()
            } else {
                "Choose a screen or window in the system dialog".to_owned()
            },
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
        let result = guard.as_ref().map(|s| s.stream.slot().latest());
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
