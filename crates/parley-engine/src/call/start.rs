//! A call from invite to accept: the peer link to the other side (to each
//! member, when we join a group call), the ring (or our accept), then the
//! [`Room`] that runs the call to its end. [`LinkFactory`] opens every link,
//! those of members who join later included.

use crate::media::EchoPath;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parley_proto::data::{CHAT_LABEL, CONTROL_LABEL, FILE_LABEL};
use parley_proto::{ClientMessage, PeerId};
use tokio::sync::{mpsc, watch};

use super::data::Reporter;
use super::ice_source::IceSource;
use super::local_media::{LinkTracks, LocalMedia};
use super::media::{Counters, Mute};
use super::negotiate::{self, RingOutcome};
use super::peer_link::{LinkContext, LinkEvent, PeerLink};
use super::room::{Room, RoomInputs, LINK_EVENT_QUEUE};
use super::{
    CallCommand, CallEvent, CallOptions, CallReport, Direction, CAMERA_TRACK_ID, SCREEN_TRACK_ID,
};
use crate::channel::DcMessage;
use crate::rtc::{DataChannel, MediaKind, PeerConnection, RtcConfig};
use crate::signaling::{SignalEvent, SignalingClient};
use crate::Result;

/// Internal queue capacity between the call's subtasks and its owner, messages.
const INTERNAL_QUEUE: usize = 64;

/// Data channels a link's offerer created, to be attached by the room.
pub(super) type OwnChannels = Vec<(DataChannel, mpsc::Receiver<DcMessage>)>;

/// Opens the peer links of one call: a peer connection with the three tracks,
/// its events forwarded to the room, and (on the offering side) the three data
/// channels.
pub(super) struct LinkFactory {
    sig: SignalingClient,
    call_id: String,
    /// The settings of every link; its ICE servers are used only when they are
    /// the user's own (`ice`).
    rtc: RtcConfig,
    /// Whose ICE servers the links use.
    ice: IceSource,
    report: Reporter,
    stop: watch::Receiver<bool>,
    counters: Arc<Counters>,
    mute: Arc<Mute>,
    /// The call's echo path: remote audio that plays aloud feeds it.
    echo: Option<EchoPath>,
    events: mpsc::Sender<LinkEvent>,
    lost_after: Duration,
}

impl LinkFactory {
    /// The signaling client the links send through.
    pub(super) fn signaling(&self) -> &SignalingClient {
        &self.sig
    }

    /// The settings a new peer connection of this call gets now (a link's, or
    /// the SFU's): the user's ICE servers, else those the server handed out last.
    pub(super) fn rtc_now(&self) -> RtcConfig {
        self.ice.link_config(&self.rtc, &self.sig)
    }

    /// The call's echo path (a live microphone's), for remote audio that
    /// comes another way (through the SFU).
    pub(super) fn echo(&self) -> Option<EchoPath> {
        self.echo.clone()
    }

    /// A link to `peer`, not started yet. The offerer creates the data channels
    /// (returned for the room to attach); the answerer receives them as events.
    /// Unless the user set their own, the link uses the ICE servers the signaling
    /// server handed out last, so a link opened late in a long call gets TURN
    /// credentials that have not expired.
    ///
    /// Errors: [`crate::Error::Rtc`] when webrtc-rs cannot make the peer
    /// connection, its tracks or its channels.
    pub(super) async fn open(
        &self,
        peer: &PeerId,
        offerer: bool,
    ) -> Result<(PeerLink, OwnChannels)> {
        let rtc = self.rtc_now();
        let (pc, rtc_rx) = PeerConnection::new(&rtc).await?;
        let tracks = add_tracks(&pc).await?;
        let cx = LinkContext {
            sig: self.sig.clone(),
            call_id: self.call_id.clone(),
            ice: self.ice,
            report: self.report.clone(),
            stop: self.stop.clone(),
            counters: Arc::clone(&self.counters),
            mute: Arc::clone(&self.mute),
            echo: self.echo.clone(),
        };
        let mut link = PeerLink::new(peer.clone(), pc.clone(), tracks, cx, self.lost_after);
        link.forward_events(rtc_rx, self.events.clone());
        let mut own = Vec::new();
        if offerer {
            for label in [CHAT_LABEL, FILE_LABEL, CONTROL_LABEL] {
                own.push(pc.create_data_channel(label).await?);
            }
        }
        Ok((link, own))
    }
}

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
    // The user's own ICE servers win; otherwise those the signaling server handed
    // out. The links read the server's afresh (`IceSource`): their TURN credentials
    // expire and are handed out again during a long call.
    // A server we do not trust gives us no servers at all (`refuse_server_ice`).
    let ice = if opts.refuse_server_ice {
        IceSource::User
    } else {
        IceSource::of(&opts.rtc)
    };
    if ice == IceSource::Server {
        opts.rtc.ice_servers = sig.ice_servers();
    }
    if opts.rtc.certificate.is_none() {
        opts.rtc.certificate = opts.profile.as_ref().map(|p| p.dtls_certificate().clone());
    }
    let (internal_tx, internal_rx) = mpsc::channel(INTERNAL_QUEUE);
    let report = Reporter::new(internal_tx);
    let (stop_tx, stop_rx) = watch::channel(false);
    let (link_events, rtc) = mpsc::channel(LINK_EVENT_QUEUE);
    let call_id = direction.call_id().to_owned();
    let counters = Arc::new(Counters::default());
    // Only a live microphone is processed (files and tones go as they are).
    let echo = opts
        .audio_source
        .as_ref()
        .is_some_and(|s| s.captures_room())
        .then(|| EchoPath::sonora(opts.audio_processing))
        .flatten();
    let media = LocalMedia::new(
        Arc::clone(&counters),
        echo.clone(),
        stop_rx.clone(),
        report.clone(),
    );
    let factory = LinkFactory {
        sig: sig.clone(),
        call_id: call_id.clone(),
        rtc: opts.rtc.clone(),
        ice,
        report,
        stop: stop_rx,
        counters,
        mute: Arc::clone(&media.mute),
        echo,
        events: link_events,
        lost_after: Duration::from_millis(opts.lost_after_ms),
    };
    // Who we open links to first, and whether we offer on them.
    let (peers, offerer): (Vec<PeerId>, bool) = match &direction {
        Direction::Outgoing { to, .. } => (vec![to.clone()], true),
        Direction::Incoming { from, .. } => (vec![from.clone()], false),
        Direction::Join { from, members, .. } => {
            let mut peers = members.clone();
            if !peers.contains(from) {
                peers.push(from.clone());
            }
            peers.retain(|p| p != sig.id());
            (peers, false)
        }
    };
    let mut links = Vec::new();
    for peer in &peers {
        links.push(factory.open(peer, offerer).await?);
    }
    let close_all = |links: &[(PeerLink, OwnChannels)]| {
        let pcs: Vec<PeerConnection> = links.iter().map(|(l, _)| l.pc.clone()).collect();
        async move {
            for pc in pcs {
                pc.close().await;
            }
        }
    };

    // SFU messages that came while ringing, for the room.
    let mut early = Vec::new();
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
                &mut early,
            )
            .await;
            match rang {
                Ok(RingOutcome::Accepted) => {}
                Ok(RingOutcome::CancelledByUs) => {
                    close_all(&links).await;
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
                    close_all(&links).await;
                    return Err(e);
                }
            }
        }
        Direction::Incoming { .. } | Direction::Join { .. } => {
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
    let _hold = peers
        .first()
        .map(|peer| sig.hold_call(&call_id, peer, opts.kind));
    for peer in &peers {
        let _ = events
            .send(CallEvent::Accepted { peer: peer.clone() })
            .await;
    }

    // The room first: it notes what `opts` holds to send before the channels
    // take it.
    let mut room = Room::new(call_id, events, stop_tx, accepted_at, opts, media, factory);
    for msg in early {
        room.on_sfu_signal(msg).await;
    }
    let mut outcomes = Vec::new();
    for (link, own) in links {
        outcomes.push(room.add_link(link, own, offerer).await);
    }
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
        rtc,
        internal: internal_rx,
        network: follows_network.then(|| sig.network_changes()),
    };
    match room.on_outcomes_of_all(outcomes).await {
        // The first offer could not be made or sent: end at once.
        Some(reason) => room.end(reason).await,
        None => room.run(inputs).await,
    }
}

/// Adds the three tracks every link sends on, in the same order on both sides
/// (docs/protocol.md §8.4).
pub(super) async fn add_tracks(pc: &PeerConnection) -> Result<LinkTracks> {
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
