//! Media through an SFU (Janus VideoRoom, docs/sfu-plan.md): one peer
//! connection that publishes our tracks to the room ([`SfuPublisher`]) and one
//! that receives the other members' feeds from it ([`SfuSubscriber`]), each a
//! plain JSEP negotiation with Janus over its WebSocket API (parley-janus).
//!
//! The same media pipelines as a mesh link's run on them: each source is
//! captured and encoded once, keyframe requests (PLI) from any subscriber reach
//! our encoder through Janus, and each received track is decoded into the sinks
//! [`RemoteSinks`] hands out for its member.
//!
//! Janus's SDP carries all its candidates (half trickle); ours are trickled to
//! it as they are gathered (RFC 8838), ended with `{"completed": true}`.

mod publisher;
mod sdp_map;
mod session;
mod subscriber;

pub use publisher::SfuPublisher;
pub use session::SfuSummary;
pub(super) use session::{SfuInput, SfuNews, SfuSession, SharedSinks};
pub use subscriber::SfuSubscriber;

use parley_janus::client::{Candidate, Handle};
use tokio::sync::{mpsc, watch};

use super::RemoteSinks;
use crate::rtc::{ConnectionState, RtcEvent};

/// How long closing a publisher or subscriber waits for Janus to confirm the
/// `leave`.
const LEAVE_WITHIN: std::time::Duration = std::time::Duration::from_millis(1_000);

/// What the signaling server grants a member for an SFU call: where the room
/// is and the secrets that let this member in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SfuGrant {
    /// The SFU's WebSocket API, `ws://HOST:PORT/`.
    pub url: String,
    /// The VideoRoom's id.
    pub room: u64,
    /// The room's PIN: every join needs it.
    pub pin: String,
    /// This member's token: a publisher join needs one the room allows.
    pub token: String,
    /// The feed id this member publishes as (unique in the room, < 2^53).
    pub feed: u64,
}

/// Drives a peer connection's events for an SFU link: local candidates are
/// trickled to Janus on `handle` (end of candidates included), the connection
/// state goes to `state`, and remote tracks go to `tracks` (the subscriber's;
/// `None` drops them). Ends when the peer connection's event queue closes.
fn forward_events(
    mut events: mpsc::Receiver<RtcEvent>,
    handle: Handle,
    state: watch::Sender<ConnectionState>,
    tracks: Option<mpsc::Sender<crate::rtc::RemoteTrack>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            match ev {
                RtcEvent::LocalCandidate(c) => {
                    let c = Candidate {
                        candidate: c.candidate,
                        sdp_mid: c.sdp_mid,
                        sdp_mline_index: c.sdp_mline_index,
                    };
                    if let Err(e) = handle.trickle(Some(c)).await {
                        tracing::warn!("trickling a candidate to the SFU: {e}");
                    }
                }
                RtcEvent::GatheringComplete => {
                    if let Err(e) = handle.trickle(None).await {
                        tracing::warn!("ending candidates to the SFU: {e}");
                    }
                }
                RtcEvent::State(s) => {
                    tracing::debug!("SFU link: {s:?}");
                    let _ = state.send(s);
                }
                RtcEvent::Track(t) => {
                    if let Some(tracks) = &tracks {
                        let _ = tracks.send(t).await;
                    }
                }
                _ => {}
            }
        }
    })
}

/// Waits until `state` says connected, at most `within`.
///
/// Errors: [`crate::Error::Rtc`] when the connection failed or closed first, or
/// did not connect in time.
async fn wait_connected(
    state: &mut watch::Receiver<ConnectionState>,
    within: std::time::Duration,
) -> crate::Result<()> {
    let wait = state.wait_for(|s| {
        matches!(
            s,
            ConnectionState::Connected | ConnectionState::Failed | ConnectionState::Closed
        )
    });
    match tokio::time::timeout(within, wait).await {
        Ok(Ok(s)) if *s == ConnectionState::Connected => Ok(()),
        Ok(Ok(s)) => Err(crate::Error::Rtc(format!("SFU link {:?}", *s))),
        Ok(Err(_)) => Err(crate::Error::Rtc("SFU link gone".into())),
        Err(_) => Err(crate::Error::Rtc(format!(
            "SFU link not connected within {} ms",
            within.as_millis()
        ))),
    }
}

/// The sinks a subscriber hands each feed's tracks to (a member's, by feed).
pub type FeedSinks = Box<dyn RemoteSinks>;
