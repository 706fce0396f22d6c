//! Cascading VideoRoom publishers between Janus instances ("remote publishers",
//! Janus 1.1; the VideoRoom documentation's section "Remote publishers (room
//! cascading)"): a publisher of a room on Janus A is made a publisher of a room on
//! Janus B, so members on B subscribe to it as to any local one.
//!
//! The order is Janus's: [`add_remote_publisher`] on B (the target) opens a UDP
//! port there and announces the publisher to B's room; [`publish_remotely`] on A
//! (the source) starts RTP forwarders of all the publisher's streams to that
//! port (plain RTP, multiplexed by SSRC, unencrypted unless an SRTP key is set;
//! B sends its keyframe requests back to A's RTCP port). Undoing it is
//! [`unpublish_remotely`] on A and [`remove_remote_publisher`] on B.
//!
//! Every request needs the room's `secret`, and forwarding needs the source's
//! admin key: only whoever created the rooms (the signaling server) can cascade
//! them. The stream list B announces comes from A:
//! [`published_streams`] reads it as VideoRoom lists publishers to a participant.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::client::{Handle, HandleEvent};
use crate::{Error, Result};

/// One stream of a publisher as VideoRoom lists it (`publishers[].streams[]`)
/// and as `add_remote_publisher` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedStream {
    /// `"audio"`, `"video"` or `"data"`.
    pub kind: String,
    /// Its m-line index in the publisher's SDP.
    pub mindex: u32,
    /// Its mid.
    pub mid: String,
    /// The negotiated codec (`"h264"`, `"opus"`, ...); `None` when disabled.
    pub codec: Option<String>,
    /// The H.264 profile-level-id (e.g. `"42e01f"`), for H.264 video.
    pub h264_profile: Option<String>,
    /// The stream is inactive (an unused transceiver, e.g. no screen shared).
    pub disabled: bool,
}

impl PublishedStream {
    /// The stream as `add_remote_publisher` wants it.
    fn to_json(&self) -> Value {
        let mut v = json!({"type": self.kind, "mindex": self.mindex, "mid": self.mid,
                           "disabled": self.disabled});
        if let Some(c) = &self.codec {
            v["codec"] = json!(c);
        }
        if let Some(p) = &self.h264_profile {
            v["h264-profile"] = json!(p);
        }
        v
    }
}

/// The streams of publisher `feed` in a VideoRoom `publishers` list (the one of
/// a `joined` reply or of a `publishers` event); `None` when `feed` is not in it
/// or lists no streams.
pub fn streams_of(publishers: &Value, feed: u64) -> Option<Vec<PublishedStream>> {
    let entry = publishers
        .as_array()?
        .iter()
        .find(|p| p["id"].as_u64() == Some(feed))?;
    let streams: Vec<PublishedStream> = entry["streams"]
        .as_array()?
        .iter()
        .filter_map(|s| {
            Some(PublishedStream {
                kind: s["type"].as_str()?.to_owned(),
                mindex: u32::try_from(s["mindex"].as_u64()?).ok()?,
                mid: s["mid"].as_str()?.to_owned(),
                codec: s["codec"].as_str().map(str::to_owned),
                h264_profile: s["h264_profile"].as_str().map(str::to_owned),
                disabled: s["disabled"].as_bool().unwrap_or(false),
            })
        })
        .collect();
    (!streams.is_empty()).then_some(streams)
}

/// Where a remote publisher receives its media on the target Janus (the
/// `add_remote_publisher` reply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteEndpoint {
    /// The publisher's id in the target room.
    pub id: u64,
    /// The address to send RTP to.
    pub ip: IpAddr,
    /// The UDP port for all its RTP packets.
    pub port: u16,
    /// The UDP port that sends RTCP feedback (keyframe requests) back.
    pub rtcp_port: u16,
}

/// A room on one Janus and what editing it takes.
#[derive(Debug, Clone, Copy)]
pub struct RoomAdmin<'a> {
    /// The room id.
    pub room: u64,
    /// The room's secret (set at `create`).
    pub secret: &'a str,
    /// That Janus's VideoRoom `admin_key`: RTP forwarders, which
    /// [`publish_remotely`] starts, need it (`lock_rtpfwd`).
    pub admin_key: &'a str,
}

/// Joins `room` on `handle` as a participant that publishes nothing (`observer`
/// id, with the room's `pin` and an allowed `token`) and waits up to `within`
/// until publisher `feed` is listed with its streams; then leaves (also when it
/// times out or the handle closes).
///
/// Errors: [`Error::Timeout`] when `feed` is not listed in time; Janus's and the
/// plugin's errors (433 for a wrong PIN or token).
pub async fn published_streams(
    handle: &Handle,
    room: u64,
    pin: &str,
    token: &str,
    observer: u64,
    feed: u64,
    within: Duration,
) -> Result<Vec<PublishedStream>> {
    let joined = handle
        .send(
            json!({"request": "join", "ptype": "publisher", "room": room, "pin": pin,
                   "token": token, "id": observer}),
            None,
        )
        .await?;
    let listed = async {
        let mut found = streams_of(&joined.data["publishers"], feed);
        let deadline = Instant::now() + within;
        while found.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, handle.next_event()).await {
                Ok(Some(HandleEvent::Plugin { data, .. })) => {
                    found = streams_of(&data["publishers"], feed);
                }
                Ok(Some(_)) => {}
                Ok(None) => return Err(Error::Closed),
                Err(_) => return Err(Error::Timeout("the publisher's streams")),
            }
        }
        Ok(found.unwrap_or_default())
    }
    .await;
    // Joined: leave on every path, found or not (best effort, errors ignored).
    handle.send(json!({"request": "leave"}), None).await.ok();
    listed
}

/// On the target Janus: adds remote publisher `id` (named `display`) to `at`
/// with `streams`, receiving on `iface` (a random port). It is announced to the
/// room's participants at once.
///
/// Errors: the plugin's (433 wrong secret, 426 no such room, 436 id in use).
pub async fn add_remote_publisher(
    handle: &Handle,
    at: RoomAdmin<'_>,
    id: u64,
    display: &str,
    iface: IpAddr,
    streams: &[PublishedStream],
) -> Result<RemoteEndpoint> {
    let streams: Vec<Value> = streams.iter().map(PublishedStream::to_json).collect();
    let reply = handle
        .send(
            json!({"request": "add_remote_publisher", "room": at.room, "secret": at.secret,
                   "id": id, "display": display, "iface": iface.to_string(), "port": 0,
                   "streams": streams}),
            None,
        )
        .await?;
    let d = &reply.data;
    let bad = || Error::Protocol(format!("add_remote_publisher reply {d}"));
    let port = |key: &str| {
        d[key]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(bad)
    };
    Ok(RemoteEndpoint {
        id: d["id"].as_u64().ok_or_else(bad)?,
        ip: d["ip"]
            .as_str()
            .and_then(|ip| ip.parse().ok())
            .unwrap_or(iface),
        port: port("port")?,
        rtcp_port: port("rtcp_port")?,
    })
}

/// On the source Janus: forwards every stream of local publisher `publisher` in
/// `at` to `to` (a remote publisher on the target), as remotization `remote_id`.
///
/// Errors: the plugin's (433 wrong secret, 429 no admin key, 428 no such
/// publisher).
pub async fn publish_remotely(
    handle: &Handle,
    at: RoomAdmin<'_>,
    publisher: u64,
    remote_id: &str,
    to: &RemoteEndpoint,
) -> Result<()> {
    handle
        .send(
            json!({"request": "publish_remotely", "room": at.room, "secret": at.secret,
                   "admin_key": at.admin_key, "publisher_id": publisher,
                   "remote_id": remote_id, "host": to.ip.to_string(), "port": to.port, "rtcp_port": to.rtcp_port}),
            None,
        )
        .await
        .map(drop)
}

/// On the source Janus: stops remotization `remote_id` of `publisher`.
pub async fn unpublish_remotely(
    handle: &Handle,
    at: RoomAdmin<'_>,
    publisher: u64,
    remote_id: &str,
) -> Result<()> {
    handle
        .send(
            json!({"request": "unpublish_remotely", "room": at.room, "secret": at.secret,
                   "admin_key": at.admin_key, "publisher_id": publisher, "remote_id": remote_id}),
            None,
        )
        .await
        .map(drop)
}

/// On the target Janus: removes remote publisher `id`; the room's participants
/// see it leave.
pub async fn remove_remote_publisher(handle: &Handle, at: RoomAdmin<'_>, id: u64) -> Result<()> {
    handle
        .send(
            json!({"request": "remove_remote_publisher", "room": at.room,
                   "secret": at.secret, "id": id}),
            None,
        )
        .await
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_read_from_a_publishers_list() {
        let list = json!([
            {"id": 7, "streams": [{"type": "video"}]},
            {"id": 9, "display": "alice", "streams": [
                {"type": "video", "mindex": 0, "mid": "0", "codec": "h264",
                 "h264_profile": "42e01f"},
                {"type": "audio", "mindex": 1, "mid": "1", "codec": "opus"},
                {"type": "video", "mindex": 2, "mid": "2", "disabled": true}
            ]}
        ]);
        let s = streams_of(&list, 9).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].h264_profile.as_deref(), Some("42e01f"));
        assert_eq!(s[1].codec.as_deref(), Some("opus"));
        assert!(s[2].disabled && s[2].codec.is_none());
        assert_eq!(
            s[0].to_json(),
            json!({"type": "video", "mindex": 0, "mid": "0", "disabled": false,
                   "codec": "h264", "h264-profile": "42e01f"})
        );
        // Not listed, or listed with no usable stream.
        assert_eq!(streams_of(&list, 8), None);
        assert_eq!(streams_of(&list, 7), None);
        assert_eq!(streams_of(&json!(null), 9), None);
    }
}
