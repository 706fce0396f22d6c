//! The Janus API over one WebSocket: [`JanusClient`] → [`Session`] → [`Handle`].
//!
//! One reader task and one writer task own the socket. Every request carries a
//! random 12-character `"transaction"`; the reader completes the waiting request
//! with the first reply bearing it (skipping the `"ack"` before an asynchronous
//! plugin reply). Anything else with a `"sender"` (webrtcup, media, hangup, plugin
//! events such as new publishers, replies nobody waits for) goes to that handle's
//! event queue ([`Handle::next_event`]); a session `"timeout"` goes to all handles
//! of the session.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::{header, HeaderValue};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::{Error, Result};

/// Outgoing message queue capacity, messages.
pub const OUTGOING_QUEUE: usize = 64;
/// Each handle's event queue capacity, events; events beyond it are dropped
/// (with a warning).
pub const HANDLE_EVENT_QUEUE: usize = 256;
/// How long a request may wait for its reply (connecting included), s.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a [`Session`] sends a keepalive, s (Janus drops sessions silent for
/// its `session_timeout`, 60 s in [`crate::process`]).
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(25);
/// The VideoRoom plugin's package name.
pub const VIDEOROOM: &str = "janus.plugin.videoroom";

mod messages;
mod routing;

use messages::{expect_kind, janus_error, kind, parse_reply, success_id, transaction};
pub use messages::{Candidate, HandleEvent, Jsep, Reply};
use routing::{lock, Expect, Pending, Tables};
#[cfg(test)]
use routing::{route, HandleEntry, Route};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One WebSocket connection to Janus. Clones share it; it closes when the last
/// clone (sessions and handles hold one) is dropped.
#[derive(Clone)]
pub struct JanusClient {
    out: mpsc::Sender<String>,
    tables: Arc<Mutex<Tables>>,
}

impl JanusClient {
    /// Connects to `url` (`ws://IP:PORT/`) with subprotocol `janus-protocol`,
    /// within [`REQUEST_TIMEOUT`]. Errors: [`Error::WebSocket`], [`Error::Timeout`].
    pub async fn connect(url: &str) -> Result<JanusClient> {
        let mut request = url
            .into_client_request()
            .map_err(|e| Error::WebSocket(format!("{url}: {e}")))?;
        request.headers_mut().insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("janus-protocol"),
        );
        let (ws, _) =
            tokio::time::timeout(REQUEST_TIMEOUT, tokio_tungstenite::connect_async(request))
                .await
                .map_err(|_| Error::Timeout("connect"))?
                .map_err(|e| Error::WebSocket(format!("{url}: {e}")))?;
        let (sink, stream) = ws.split();
        let (out, rx) = mpsc::channel(OUTGOING_QUEUE);
        let tables = Arc::new(Mutex::new(Tables::default()));
        tokio::spawn(write_loop(sink, rx, tables.clone()));
        tokio::spawn(read_loop(stream, tables.clone()));
        Ok(JanusClient { out, tables })
    }

    /// Whether the connection is gone.
    pub fn is_closed(&self) -> bool {
        lock(&self.tables).closed
    }

    /// Sends `msg` (an object) with a new transaction and waits for its reply; a
    /// `"janus":"error"` reply becomes [`Error::Janus`].
    async fn call(&self, mut msg: Value, what: &'static str, expect: Expect) -> Result<Value> {
        let txn = transaction();
        msg["transaction"] = Value::String(txn.clone());
        let (tx, rx) = oneshot::channel();
        {
            let mut tables = lock(&self.tables);
            if tables.closed {
                return Err(Error::Closed);
            }
            tables.pending.insert(txn.clone(), Pending { tx, expect });
        }
        let exchange = async {
            if self.out.send(msg.to_string()).await.is_err() {
                return Err(Error::Closed);
            }
            rx.await.unwrap_or(Err(Error::Closed))
        };
        let result = match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout(what)),
        };
        lock(&self.tables).pending.remove(&txn);
        let reply = result?;
        match janus_error(&reply) {
            Some(e) => Err(e),
            None => Ok(reply),
        }
    }

    /// `{"janus":"info"}`: the whole `"server_info"` reply (`version_string`,
    /// `plugins`, ...).
    pub async fn info(&self) -> Result<Value> {
        let reply = self
            .call(json!({"janus": "info"}), "info", Expect::Reply)
            .await?;
        match kind(&reply) {
            "server_info" => Ok(reply),
            _ => Err(Error::Protocol(format!("expected server_info: {reply}"))),
        }
    }

    /// Creates a session, kept alive every [`KEEPALIVE_INTERVAL`] until dropped.
    pub async fn create_session(&self) -> Result<Session> {
        let reply = self
            .call(json!({"janus": "create"}), "create", Expect::Reply)
            .await?;
        let id = success_id(&reply)?;
        let client = self.clone();
        let keepalive = tokio::spawn(async move {
            loop {
                tokio::time::sleep(KEEPALIVE_INTERVAL).await;
                let msg = json!({"janus": "keepalive", "session_id": id});
                match client.call(msg, "keepalive", Expect::Ack).await {
                    Ok(_) => {}
                    Err(Error::Closed) => break,
                    Err(e @ Error::Janus { .. }) => {
                        tracing::warn!("janus: session {id} gone: {e}");
                        break;
                    }
                    Err(e) => tracing::warn!("janus: keepalive of session {id}: {e}"),
                }
            }
        });
        Ok(Session {
            client: self.clone(),
            id,
            keepalive,
        })
    }
}

async fn write_loop(
    mut sink: SplitSink<Ws, Message>,
    mut rx: mpsc::Receiver<String>,
    tables: Arc<Mutex<Tables>>,
) {
    while let Some(text) = rx.recv().await {
        if let Err(e) = sink.send(Message::text(text)).await {
            tracing::debug!("janus: send failed: {e}");
            break;
        }
    }
    let _ = sink.close().await;
    lock(&tables).close();
}

async fn read_loop(mut stream: SplitStream<Ws>, tables: Arc<Mutex<Tables>>) {
    while let Some(frame) = stream.next().await {
        let text = match frame {
            Ok(Message::Text(text)) => text,
            Ok(Message::Close(_)) => break,
            Ok(_) => continue,
            Err(e) => {
                tracing::debug!("janus: receive failed: {e}");
                break;
            }
        };
        match serde_json::from_str::<Value>(text.as_str()) {
            Ok(msg) => {
                lock(&tables).dispatch(msg);
            }
            Err(e) => tracing::warn!("janus: not JSON ({e}): {}", text.as_str()),
        }
    }
    lock(&tables).close();
}

/// A Janus session on a [`JanusClient`], kept alive every [`KEEPALIVE_INTERVAL`]
/// until dropped (dropping does not destroy it on Janus: [`Session::destroy`] does,
/// or Janus times it out).
pub struct Session {
    client: JanusClient,
    id: u64,
    keepalive: tokio::task::JoinHandle<()>,
}

impl Session {
    /// Janus's session id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The connection the session lives on.
    pub fn client(&self) -> &JanusClient {
        &self.client
    }

    /// Attaches a handle to `plugin` (e.g. [`VIDEOROOM`]).
    pub async fn attach(&self, plugin: &str) -> Result<Handle> {
        let (tx, events) = mpsc::channel(HANDLE_EVENT_QUEUE);
        let msg = json!({"janus": "attach", "session_id": self.id, "plugin": plugin});
        let reply = self
            .client
            .call(msg, "attach", Expect::Attach(self.id, tx))
            .await?;
        let id = success_id(&reply)?;
        Ok(Handle {
            client: self.client.clone(),
            session: self.id,
            id,
            events: Arc::new(tokio::sync::Mutex::new(events)),
        })
    }

    /// Attaches a handle to the VideoRoom plugin.
    pub async fn attach_videoroom(&self) -> Result<Handle> {
        self.attach(VIDEOROOM).await
    }

    /// Destroys the session on Janus (its handles are detached, their event
    /// queues end).
    pub async fn destroy(self) -> Result<()> {
        let msg = json!({"janus": "destroy", "session_id": self.id});
        let reply = self.client.call(msg, "destroy", Expect::Reply).await?;
        lock(&self.client.tables)
            .handles
            .retain(|_, h| h.session != self.id);
        expect_kind(&reply, "success")
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.keepalive.abort();
    }
}

/// A plugin handle: requests to the plugin, trickled candidates, and what Janus
/// reports about it unasked. Clones share it (and its event queue); dropping the
/// last does not detach it on Janus ([`Handle::detach`] does).
#[derive(Clone)]
pub struct Handle {
    client: JanusClient,
    session: u64,
    id: u64,
    events: Arc<tokio::sync::Mutex<mpsc::Receiver<HandleEvent>>>,
}

impl Handle {
    /// Janus's handle id (the `"sender"` of its events).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The id of the session it belongs to.
    pub fn session_id(&self) -> u64 {
        self.session
    }

    /// Sends `{"janus":"message","body":body,"jsep":jsep}` and waits (up to
    /// [`REQUEST_TIMEOUT`]) for the plugin's reply: the `"success"` of a
    /// synchronous request (create, destroy, allowed, kick, listparticipants, ...)
    /// or the `"event"` after the `"ack"` of an asynchronous one (join, publish,
    /// configure, start, subscribe, unsubscribe, leave), with Janus's SDP if any.
    /// Errors: [`Error::Plugin`] when the data has an `error_code`,
    /// [`Error::Janus`], [`Error::Timeout`], [`Error::Closed`], [`Error::Protocol`].
    pub async fn send(&self, body: Value, jsep: Option<Jsep>) -> Result<Reply> {
        let mut msg = json!({
            "janus": "message", "session_id": self.session, "handle_id": self.id, "body": body,
        });
        if let Some(jsep) = jsep {
            msg["jsep"] = json!(jsep);
        }
        let reply = self.client.call(msg, "message", Expect::Reply).await?;
        parse_reply(&reply)
    }

    /// Trickles one local ICE candidate, or with `None` the end of candidates
    /// (`{"completed":true}`); waits for Janus's ack.
    pub async fn trickle(&self, candidate: Option<Candidate>) -> Result<()> {
        let candidate = match candidate {
            Some(c) => json!(c),
            None => json!({"completed": true}),
        };
        let msg = json!({
            "janus": "trickle", "session_id": self.session, "handle_id": self.id,
            "candidate": candidate,
        });
        let reply = self.client.call(msg, "trickle", Expect::Ack).await?;
        expect_kind(&reply, "ack")
    }

    /// The next thing Janus reported about this handle unasked; `None` once the
    /// handle is detached, its session gone or the connection closed. Clones
    /// share one queue: each event goes to one caller.
    pub async fn next_event(&self) -> Option<HandleEvent> {
        self.events.lock().await.recv().await
    }

    /// The next event if one is queued now (and no clone is waiting for one).
    pub fn try_next_event(&self) -> Option<HandleEvent> {
        self.events.try_lock().ok()?.try_recv().ok()
    }

    /// Detaches the handle on Janus (which hangs up its PeerConnection).
    pub async fn detach(self) -> Result<()> {
        let msg = json!({"janus": "detach", "session_id": self.session, "handle_id": self.id});
        let reply = self.client.call(msg, "detach", Expect::Reply).await?;
        expect_kind(&reply, "success")
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
