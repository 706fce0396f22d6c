//! What travels over the Janus API: the public message types (JSEP, candidates,
//! plugin replies, handle events) and the parsing of Janus's JSON into them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Error, Result};

/// An SDP offer or answer as Janus carries it in `"jsep"`; other keys Janus adds
/// (`"trickle"`, `"e2ee"`) are ignored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Jsep {
    /// `"offer"` or `"answer"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The SDP.
    pub sdp: String,
}

/// One trickled ICE candidate, sent as `{"candidate":..,"sdpMid":..,"sdpMLineIndex":..}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Candidate {
    /// The `candidate:...` attribute value.
    pub candidate: String,
    /// The media stream id it belongs to.
    #[serde(rename = "sdpMid", skip_serializing_if = "Option::is_none", default)]
    pub sdp_mid: Option<String>,
    /// The m-line index it belongs to.
    #[serde(
        rename = "sdpMLineIndex",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub sdp_mline_index: Option<u16>,
}

/// A plugin's reply to [`Handle::send`]: `plugindata.data` and, for asynchronous
/// requests, the SDP Janus sent with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The plugin's data (for VideoRoom, `{"videoroom":"joined",...}` etc.).
    pub data: Value,
    /// Janus's offer or answer, if any.
    pub jsep: Option<Jsep>,
}

/// Something Janus reported about a handle unasked.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum HandleEvent {
    /// ICE and DTLS are up (`"webrtcup"`).
    WebrtcUp,
    /// Janus started or stopped receiving media (`"media"`).
    Media {
        /// `"audio"` or `"video"`.
        kind: String,
        /// Whether media is flowing now.
        receiving: bool,
        /// The m-line's mid.
        mid: Option<String>,
    },
    /// The PeerConnection closed (`"hangup"`).
    Hangup {
        /// Janus's reason, e.g. "DTLS alert".
        reason: String,
    },
    /// Janus saw many lost packets (`"slowlink"`).
    SlowLink,
    /// The handle is gone (`"detached"`); no events follow.
    Detached,
    /// The session expired (`"timeout"`); no events follow.
    Timeout,
    /// A plugin event (`"event"`: new publishers, leaving, unpublished, ...).
    Plugin {
        /// `plugindata.data`.
        data: Value,
        /// An SDP sent with it, if any.
        jsep: Option<Jsep>,
    },
    /// Anything else, as received.
    Other(Value),
}

impl HandleEvent {
    pub(super) fn from_message(msg: Value) -> HandleEvent {
        let k = kind(&msg).to_owned();
        match k.as_str() {
            "webrtcup" => HandleEvent::WebrtcUp,
            "media" => HandleEvent::Media {
                kind: str_field(&msg, "type").unwrap_or_default(),
                receiving: msg
                    .get("receiving")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                mid: str_field(&msg, "mid"),
            },
            "hangup" => HandleEvent::Hangup {
                reason: str_field(&msg, "reason").unwrap_or_default(),
            },
            "slowlink" => HandleEvent::SlowLink,
            "detached" => HandleEvent::Detached,
            "timeout" => HandleEvent::Timeout,
            "event" => match plugin_data(&msg) {
                Some(data) => HandleEvent::Plugin {
                    data,
                    jsep: parse_jsep(&msg).ok().flatten(),
                },
                None => HandleEvent::Other(msg),
            },
            _ => HandleEvent::Other(msg),
        }
    }
}

pub(super) fn kind(msg: &Value) -> &str {
    msg.get("janus").and_then(Value::as_str).unwrap_or("")
}

pub(super) fn str_field(msg: &Value, key: &str) -> Option<String> {
    msg.get(key).and_then(Value::as_str).map(str::to_owned)
}

pub(super) fn plugin_data(msg: &Value) -> Option<Value> {
    msg.get("plugindata").and_then(|p| p.get("data")).cloned()
}

pub(super) fn parse_jsep(msg: &Value) -> Result<Option<Jsep>> {
    match msg.get("jsep") {
        None | Some(Value::Null) => Ok(None),
        Some(j) => Jsep::deserialize(j)
            .map(Some)
            .map_err(|e| Error::Protocol(format!("bad jsep: {e}"))),
    }
}

/// A [`Handle::send`] reply: `"success"` or `"event"` with plugin data, a plugin
/// error in the data becoming [`Error::Plugin`].
pub(super) fn parse_reply(msg: &Value) -> Result<Reply> {
    let k = kind(msg);
    let data = match plugin_data(msg) {
        Some(data) if k == "success" || k == "event" => data,
        _ => return Err(Error::Protocol(format!("not a plugin reply: {msg}"))),
    };
    if let Some(code) = data.get("error_code").and_then(Value::as_i64) {
        let reason = data
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        return Err(Error::Plugin { code, reason });
    }
    let jsep = if k == "event" { parse_jsep(msg)? } else { None };
    Ok(Reply { data, jsep })
}

/// `{"janus":"error","error":{"code":..,"reason":..}}` as [`Error::Janus`].
pub(super) fn janus_error(msg: &Value) -> Option<Error> {
    if kind(msg) != "error" {
        return None;
    }
    let code = msg["error"]["code"].as_i64().unwrap_or(0);
    let reason = msg["error"]["reason"].as_str().unwrap_or("").to_owned();
    Some(Error::Janus { code, reason })
}

pub(super) fn expect_kind(msg: &Value, want: &str) -> Result<()> {
    if kind(msg) == want {
        Ok(())
    } else {
        Err(Error::Protocol(format!("expected {want}: {msg}")))
    }
}

/// `data.id` of a `"success"` (create, attach).
pub(super) fn success_id(msg: &Value) -> Result<u64> {
    match msg["data"]["id"].as_u64() {
        Some(id) if kind(msg) == "success" => Ok(id),
        _ => Err(Error::Protocol(format!(
            "expected success with data.id: {msg}"
        ))),
    }
}

pub(super) fn transaction() -> String {
    use rand::Rng as _;
    rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(12)
        .map(char::from)
        .collect()
}
