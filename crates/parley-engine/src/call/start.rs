//! A call from invite to accept: the peer connection with its three tracks, the
//! ring (or our accept), then the [`Room`] that runs the call to its end.

use std::sync::Arc;
use std::time::Instant;

use parley_proto::data::{CHAT_LABEL, CONTROL_LABEL, FILE_LABEL};
use parley_proto::ClientMessage;
use tokio::sync::{mpsc, watch};

use super::local_media::{LinkTracks, LocalMedia};
use super::media::Counters;
use super::negotiate::{self, RingOutcome};
use super::peer_link::{LinkContext, PeerLink};
use super::room::{Room, RoomInputs};
use super::{
    CallCommand, CallEvent, CallOptions, CallReport, Direction, CAMERA_TRACK_ID, SCREEN_TRACK_ID,
};
use crate::rtc::{MediaKind, PeerConnection};
use crate::signaling::{SignalEvent, SignalingClient};
use crate::Result;

/// Internal queue capacity between the call's subtasks and its owner, messages.
const INTERNAL_QUEUE: usize = 64;

/// Runs a call: set up, ring or accept, then the room until the end.
///
/// Errors: what ended the call abnormally (declined, busy, offline, no answer, a
/// refused or failed connection; see [`super::CallError`]).
pub(super) async fn run(
    sig: SignalingClient,
    mut sig_rx: mpsc::Receiver<SignalEvent>,
    direction: Direction,
    mut opts: CallOptions,
    mut cmd_rx: mpsc::Receiver<CallCommand>,
    events: mpsc::Sender<CallEvent>,
) -> Result<CallReport> {
    // The user's own ICE servers win; otherwise those the signaling server handed out.
    if opts.rtc.ice_servers.is_empty() {
        opts.rtc.ice_servers = sig.ice_servers();
    }
    if opts.rtc.certificate.is_none() {
        opts.rtc.certificate = opts.profile.as_ref().map(|p| p.dtls_certificate().clone());
    }
    let (pc, rtc_rx) = PeerConnection::new(&opts.rtc).await?;
    let tracks = add_tracks(&pc).await?;
    let (internal_tx, internal_rx) = mpsc::channel(INTERNAL_QUEUE);
    let (stop_tx, stop_rx) = watch::channel(false);

    let (call_id, peer, offerer) = match &direction {
        Direction::Outgoing { to, call_id } => (call_id.clone(), to.clone(), true),
        Direction::Incoming { call_id, from } => (call_id.clone(), from.clone(), false),
    };
    let counters = Arc::new(Counters::default());
    let media = LocalMedia::new(Arc::clone(&counters), stop_rx.clone(), internal_tx.clone());
    let cx = LinkContext {
        sig: sig.clone(),
        call_id: call_id.clone(),
        internal_tx,
        stop: stop_rx,
        counters,
        mute: Arc::clone(&media.mute),
    };
    let lost_after = std::time::Duration::from_millis(opts.lost_after_ms);
    let link = PeerLink::new(peer.clone(), pc.clone(), tracks, cx, lost_after);

    // The offerer creates the channels; the answerer receives them as events.
    let mut own_channels = Vec::new();
    if offerer {
        for label in [CHAT_LABEL, FILE_LABEL, CONTROL_LABEL] {
            own_channels.push(pc.create_data_channel(label).await?);
        }
    }

    match &direction {
        Direction::Outgoing { to, .. } => {
            let rang = negotiate::ring(
                &sig,
                &mut sig_rx,
                &mut cmd_rx,
                &events,
                &call_id,
                to,
                &mut opts,
            )
            .await;
            match rang {
                Ok(RingOutcome::Accepted) => {}
                Ok(RingOutcome::CancelledByUs) => {
                    pc.close().await;
                    let reason = "cancelled".to_owned();
                    let _ = events
                        .send(CallEvent::Ended {
                            reason: reason.clone(),
                        })
                        .await;
                    return Ok(CallReport {
                        call_id,
                        end_reason: reason,
                        ..Default::default()
                    });
                }
                Err(e) => {
                    pc.close().await;
                    return Err(e);
                }
            }
        }
        Direction::Incoming { call_id, .. } => {
            let call_id = call_id.clone();
            sig.send(ClientMessage::Ringing {
                call_id: call_id.clone(),
            })
            .await?;
            sig.send(ClientMessage::Accept { call_id }).await?;
        }
    }
    let accepted_at = Instant::now();
    // Listed in `resume` after a signaling reconnect until the call ends.
    let _hold = sig.hold_call(&call_id, &peer, opts.kind);
    let _ = events
        .send(CallEvent::Accepted { peer: peer.clone() })
        .await;

    // The room first: it notes what `opts` holds to send before the channels
    // take it.
    let mut room = Room::new(call_id, events, stop_tx, accepted_at, opts, link, media);
    for (dc, rx) in own_channels {
        room.link.attach_channel(dc, rx, &mut room.opts);
    }
    let outcomes = room.link.start(offerer, Instant::now()).await;
    // A link bound to every interface follows the network; one bound to a fixed
    // address (tests, `--bind`) has nothing to follow.
    let follows_network = room
        .opts
        .rtc
        .udp_bind
        .iter()
        .any(|a| a.ip().is_unspecified());
    let inputs = RoomInputs {
        commands: cmd_rx,
        signaling: sig_rx,
        rtc: rtc_rx,
        internal: internal_rx,
        network: follows_network.then(|| sig.network_changes()),
    };
    match room.on_outcomes(outcomes).await {
        // The first offer could not be made or sent: end at once.
        Some(reason) => room.end(reason).await,
        None => room.run(inputs).await,
    }
}

/// Adds the three tracks every link sends on, in the same order on both sides
/// (docs/protocol.md §8.4).
async fn add_tracks(pc: &PeerConnection) -> Result<LinkTracks> {
    Ok(LinkTracks {
        camera: Arc::new(
            pc.add_track(MediaKind::Video, "parley", CAMERA_TRACK_ID)
                .await?,
        ),
        microphone: Arc::new(
            pc.add_track(MediaKind::Audio, "parley", super::MICROPHONE_TRACK_ID)
                .await?,
        ),
        screen: Arc::new(
            pc.add_track(MediaKind::Video, "parley-screen", SCREEN_TRACK_ID)
                .await?,
        ),
    })
}
