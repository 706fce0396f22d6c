//! [`Sfu`] on a Janus VideoRoom (1.1.x) over its WebSocket API: one session and
//! one admin handle, attached once, carry every request (docs/sfu-plan.md §1 has
//! the request shapes). The room secrets never leave this struct.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use futures_util::future::BoxFuture;
use parley_janus::{random_id, random_key, Handle, JanusClient, Reply, Session};
use serde_json::{json, Value};

use super::{Grant, Sfu, SfuError, SfuRoom};

/// VideoRoom's error code for "no such room".
const NO_SUCH_ROOM: i64 = 426;
/// VideoRoom's error code for "no such feed" (a kick of a member not joined).
const NO_SUCH_FEED: i64 = 428;

/// The SFU of group calls on one Janus. If the connection to Janus is lost,
/// every later request fails ([`parley_janus::Error::Closed`]); connect anew.
pub struct JanusSfu {
    /// Kept for its keepalive: the admin handle lives in it.
    _session: Session,
    /// The handle every admin request goes through.
    admin: Handle,
    /// VideoRoom's `admin_key` (creating rooms needs it).
    admin_key: String,
    /// The URL handed to clients in [`SfuRoom::url`].
    public_url: String,
    /// The open rooms: room id → room secret.
    rooms: Mutex<HashMap<u64, String>>,
}

impl std::fmt::Debug for JanusSfu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JanusSfu")
            .field("public_url", &self.public_url)
            .field("rooms", &self.lock().len())
            .finish_non_exhaustive()
    }
}

impl JanusSfu {
    /// Connects to Janus's WebSocket API at `api_url` (`ws://IP:PORT/`), creates
    /// a session and attaches the admin handle to VideoRoom. `admin_key` is
    /// VideoRoom's admin key; `public_url` is the URL clients are told to
    /// connect to (it may differ from `api_url`, e.g. behind a proxy).
    ///
    /// Errors: [`SfuError::Janus`] when Janus cannot be reached or refuses
    /// (each step within [`parley_janus::client::REQUEST_TIMEOUT`], 10 s). The
    /// admin key is not checked here, only by [`Sfu::open_room`].
    pub async fn connect(
        api_url: &str,
        admin_key: String,
        public_url: String,
    ) -> Result<JanusSfu, SfuError> {
        let client = JanusClient::connect(api_url).await?;
        let session = client.create_session().await?;
        let admin = session.attach_videoroom().await?;
        tracing::debug!("sfu: janus session {} at {api_url}", session.id());
        Ok(JanusSfu {
            _session: session,
            admin,
            admin_key,
            public_url,
            rooms: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, String>> {
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The secret of `room`, or [`SfuError::NoSuchRoom`].
    fn secret(&self, room: u64) -> Result<String, SfuError> {
        self.lock()
            .get(&room)
            .cloned()
            .ok_or(SfuError::NoSuchRoom(room))
    }

    fn remember(&self, room: u64, secret: String) {
        self.lock().insert(room, secret);
    }

    fn forget(&self, room: u64) {
        self.lock().remove(&room);
    }

    /// `e` as an [`SfuError`]; Janus's 426 (no such room) also forgets `room`
    /// (Janus lost it, e.g. it restarted) and becomes [`SfuError::NoSuchRoom`].
    fn failed(&self, room: u64, e: parley_janus::Error) -> SfuError {
        if matches!(
            e,
            parley_janus::Error::Plugin {
                code: NO_SUCH_ROOM,
                ..
            }
        ) {
            self.forget(room);
            SfuError::NoSuchRoom(room)
        } else {
            e.into()
        }
    }

    /// A request about `room`, its reply's `"videoroom"` checked to be `want`.
    async fn request(&self, room: u64, body: Value, want: &str) -> Result<Reply, SfuError> {
        let reply = self
            .admin
            .send(body, None)
            .await
            .map_err(|e| self.failed(room, e))?;
        expect(&reply, want)?;
        Ok(reply)
    }
}

/// Checks `reply.data.videoroom == want` (the reply itself is not quoted in the
/// error: an `allowed` reply lists tokens).
fn expect(reply: &Reply, want: &str) -> Result<(), SfuError> {
    match reply.data.get("videoroom").and_then(Value::as_str) {
        Some(got) if got == want => Ok(()),
        got => Err(parley_janus::Error::Protocol(format!(
            "expected videoroom {want:?}, got {got:?}"
        ))
        .into()),
    }
}

impl Sfu for JanusSfu {
    fn open_room(&self, max_members: u32) -> BoxFuture<'_, Result<SfuRoom, SfuError>> {
        Box::pin(async move {
            let room = random_id();
            let secret = random_key();
            let pin = random_key();
            let body = json!({
                "request": "create", "admin_key": self.admin_key, "room": room,
                "secret": secret, "pin": pin, "is_private": true,
                "publishers": max_members, "videocodec": "h264", "h264_profile": "42e01f",
                "audiocodec": "opus", "require_pvtid": true, "allowed": [],
                "permanent": false,
            });
            let reply = self.admin.send(body, None).await?;
            expect(&reply, "created")?;
            self.remember(room, secret);
            tracing::debug!("sfu: opened janus room {room} for {max_members} members");
            Ok(SfuRoom {
                kind: "janus",
                url: self.public_url.clone(),
                room,
                pin,
            })
        })
    }

    fn admit(&self, room: u64) -> BoxFuture<'_, Result<Grant, SfuError>> {
        Box::pin(async move {
            let secret = self.secret(room)?;
            let token = random_key();
            let feed = random_id();
            let body = json!({
                "request": "allowed", "room": room, "secret": secret, "action": "add",
                "allowed": [token],
            });
            self.request(room, body, "success").await?;
            tracing::debug!("sfu: admitted feed {feed} to janus room {room}");
            Ok(Grant { token, feed })
        })
    }

    fn revoke(&self, room: u64, grant: &Grant) -> BoxFuture<'_, Result<(), SfuError>> {
        let Grant { token, feed } = grant.clone();
        Box::pin(async move {
            let secret = self.secret(room)?;
            let body = json!({
                "request": "allowed", "room": room, "secret": secret, "action": "remove",
                "allowed": [token],
            });
            self.request(room, body, "success").await?;
            let body = json!({"request": "kick", "room": room, "secret": secret, "id": feed});
            match self.request(room, body, "success").await {
                Ok(_) => tracing::debug!("sfu: revoked and kicked feed {feed} in room {room}"),
                Err(SfuError::Janus(parley_janus::Error::Plugin {
                    code: NO_SUCH_FEED, ..
                })) => tracing::debug!("sfu: revoked feed {feed} (not joined) in room {room}"),
                Err(e) => return Err(e),
            }
            Ok(())
        })
    }

    fn close_room(&self, room: u64) -> BoxFuture<'_, Result<(), SfuError>> {
        Box::pin(async move {
            let secret = self.secret(room)?;
            let body = json!({"request": "destroy", "room": room, "secret": secret});
            match self.request(room, body, "destroyed").await {
                Ok(_) => {}
                // Janus had lost it already: `failed` forgot it.
                Err(SfuError::NoSuchRoom(_)) => {}
                Err(e) => return Err(e),
            }
            self.forget(room);
            tracing::debug!("sfu: closed janus room {room}");
            Ok(())
        })
    }

    fn publishers(&self, room: u64) -> BoxFuture<'_, Result<Vec<u64>, SfuError>> {
        Box::pin(async move {
            self.secret(room)?;
            let body = json!({"request": "listparticipants", "room": room});
            let reply = self.request(room, body, "participants").await?;
            let listed = reply.data.get("participants").and_then(Value::as_array);
            let Some(listed) = listed else {
                let e = parley_janus::Error::Protocol("participants: no list".into());
                return Err(e.into());
            };
            Ok(listed
                .iter()
                .filter(|p| p.get("publisher").and_then(Value::as_bool) == Some(true))
                .filter_map(|p| p.get("id").and_then(Value::as_u64))
                .collect())
        })
    }
}
