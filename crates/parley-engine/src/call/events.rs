//! What a call reports as it goes: events that name the member (peer) and the
//! track they concern, and the live statistics of one link.

use parley_proto::data::ChatMessage;
use parley_proto::PeerId;

use crate::rtc::CandidateType;
use crate::transfer::TransferEvent;

use super::{CAMERA_TRACK_ID, MICROPHONE_TRACK_ID, SCREEN_TRACK_ID};

/// The tracks every link carries each way (docs/protocol.md §8.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TrackKind {
    /// Camera video (H.264).
    Camera,
    /// Microphone audio (Opus).
    Microphone,
    /// Shared screen video (H.264).
    Screen,
}

impl TrackKind {
    /// The track id on the wire (`camera`, `microphone`, `screen`).
    pub fn as_str(self) -> &'static str {
        match self {
            TrackKind::Camera => CAMERA_TRACK_ID,
            TrackKind::Microphone => MICROPHONE_TRACK_ID,
            TrackKind::Screen => SCREEN_TRACK_ID,
        }
    }
}

/// What the call reports as it goes. Events about one member of the call name
/// it (`peer`); in a one-to-one call that is always the other party.
#[derive(Debug)]
#[non_exhaustive]
pub enum CallEvent {
    /// `peer`'s client is ringing.
    Ringing {
        /// The member called.
        peer: PeerId,
    },
    /// `peer` accepted (or we accepted `peer`'s call).
    Accepted {
        /// The member.
        peer: PeerId,
    },
    /// ICE and DTLS to `peer` are up for the first time.
    Connected {
        /// The member.
        peer: PeerId,
    },
    /// The connection to `peer` was lost; an ICE restart (or the network) may
    /// bring it back within [`super::CallOptions::lost_after_ms`].
    Reconnecting {
        /// The member whose link was lost.
        peer: PeerId,
    },
    /// The connection to `peer` is back after [`CallEvent::Reconnecting`].
    Reconnected {
        /// The member whose link is back.
        peer: PeerId,
    },
    /// The first frame of `peer`'s camera was decoded, `setup_ms` after accept.
    FirstRemoteFrame {
        /// The member.
        peer: PeerId,
        /// The track (the camera).
        track: TrackKind,
        /// Accept → first decoded remote frame, ms.
        setup_ms: u64,
    },
    /// A chat message from `peer` arrived (already stored in history when a
    /// profile is set).
    ChatReceived {
        /// The sender.
        peer: PeerId,
        /// The message.
        message: ChatMessage,
    },
    /// We sent a chat message (already stored in history when a profile is set).
    ChatSent(ChatMessage),
    /// `peer` acknowledged a chat message we sent.
    ChatDelivered {
        /// The member that acknowledged it.
        peer: PeerId,
        /// The message id.
        id: String,
    },
    /// Progress, completion or failure of a file transfer with `peer`.
    Transfer {
        /// The member on the other end.
        peer: PeerId,
        /// What happened.
        event: TransferEvent,
    },
    /// Every chat message and file given in [`super::CallOptions`] has been
    /// delivered.
    SendsDone,
    /// `peer` muted or unmuted (control channel).
    RemoteMuted {
        /// The member.
        peer: PeerId,
        /// Their microphone is muted.
        audio: bool,
        /// Their camera is off.
        video: bool,
    },
    /// We started or stopped sharing our screen (also when the shared source went
    /// away by itself, e.g. a closed window).
    ScreenShare {
        /// Whether the screen track now carries our screen.
        sharing: bool,
    },
    /// `peer` started or stopped sharing its screen.
    RemoteScreenShare {
        /// The member.
        peer: PeerId,
        /// Whether they are sharing.
        sharing: bool,
    },
    /// Live statistics of the link to `peer`, once a second while connected.
    Stats {
        /// The member.
        peer: PeerId,
        /// The figures.
        stats: LiveStats,
    },
    /// `peer` joined the call (a group call: we were in it first, so we offer
    /// it a peer link).
    PeerJoined {
        /// The new member.
        peer: PeerId,
    },
    /// Our invitation of a contact into the call ended without it joining: it
    /// declined, was busy, did not answer, or could not be invited (offline,
    /// an app too old for group calls); `peer` when known.
    InviteFailed {
        /// The contact.
        peer: Option<PeerId>,
        /// Why, in words.
        reason: String,
    },
    /// `peer` left a call that goes on with the other members: it hung up, or
    /// its link ended (`reason` in words, as in [`CallEvent::Ended`]).
    PeerLeft {
        /// The member.
        peer: PeerId,
        /// Why, in words.
        reason: String,
    },
    /// Our media moved to the SFU (`via_sfu`: we publish there and receive the
    /// others from it, so the SFU terminates DTLS-SRTP and sees the media) or
    /// back onto the peer links (end-to-end again, e.g. after the SFU failed).
    MediaPath {
        /// Whether media now goes through the SFU.
        via_sfu: bool,
    },
    /// The call ended.
    Ended {
        /// Why, in words.
        reason: String,
    },
}

/// Live call statistics for an overlay, measured over the last second.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveStats {
    /// Remote video width, pixels (0 before the first frame).
    pub width: u32,
    /// Remote video height, pixels.
    pub height: u32,
    /// Remote frames decoded per second.
    pub fps: f64,
    /// Bits received per second on the selected candidate pair (media and data).
    pub bitrate_bps: f64,
    /// Longest gap between two decoded remote frames in this period, ms.
    pub max_frame_gap_ms: u64,
    /// Remote video freezes (no new frame for at least 500 ms) over the call so far.
    pub freezes: u64,
    /// Bits sent per second on the selected candidate pair (media and data).
    pub sent_bitrate_bps: f64,
    /// What the congestion controller lets us send to this peer, bits/s (GCC's
    /// target, draft-ietf-rmcat-gcc-02); `None` while congestion control is off.
    pub estimate_bps: Option<f64>,
    /// The camera encoder's target bitrate now, bits/s (0 without a camera).
    pub video_target_bps: f64,
    /// The screen encoder's target bitrate now, bits/s (0 when not sharing).
    pub screen_target_bps: f64,
    /// ICE round-trip time, ms.
    pub rtt_ms: Option<f64>,
    /// Audio packets lost, percent of those expected, over the call so far.
    pub loss_pct: f64,
    /// Lost audio packets recovered from the next packet's Opus in-band FEC
    /// (RFC 6716 §2.1.7), over the call so far (call-wide: every member's
    /// audio).
    pub audio_recovered: u64,
    /// Audio concealed (Opus packet loss concealment), 20 ms frames over the
    /// call so far: packets lost and not recovered, and waits for a packet
    /// not yet due after the jitter buffer's delay grew (call-wide).
    pub audio_concealed: u64,
    /// The audio jitter buffer's delay now, ms (call-wide: the last member's
    /// audio to play).
    pub jitter_delay_ms: u64,
    /// Local candidate type of the selected pair (host, srflx, prflx, relay).
    pub candidate: Option<CandidateType>,
    /// Our address of the selected candidate pair, `ip:port` (it changes when an
    /// ICE restart finds a new route).
    pub local_address: Option<String>,
    /// The peer's address of the selected candidate pair, `ip:port`.
    pub remote_address: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn track_kinds_use_the_protocols_track_ids() {
        let ids: Vec<&str> = [TrackKind::Camera, TrackKind::Microphone, TrackKind::Screen]
            .iter()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(ids, ["camera", "microphone", "screen"]);
    }
}
