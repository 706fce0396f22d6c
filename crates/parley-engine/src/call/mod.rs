//! One call, one-to-one or a group (a mesh of peer links): the signaling dance
//! (invite → ringing → accept → offer/answer → trickle ICE → hangup, and `add`,
//! `joined`, `left` in a group; see `docs/protocol.md`), the peer connections,
//! the media pipelines, chat and file transfers.
//!
//! The layers, from the wire down: `start` (set-up, ring or accept), `room` (the
//! running call: commands, events, the end), `peer_link` (one peer connection and
//! its channels and tracks, negotiated by the pure state machine in [`link`]),
//! `local_media` (capture and encoding, once, onto the links' tracks), `error`.
//!
//! One task owns the call ([`Call::start`]); the caller talks to it through
//! [`Call::command`] and hears from it through [`Call::next_event`]. Everything the call
//! spawns stops when it ends, and [`Call::finish`] returns a [`CallReport`].

mod audio_loss;
mod bitrate;
mod data;
mod devices;
mod error;
mod events;
mod fanout;
mod file_sends;
#[cfg(test)]
mod file_sends_tests;
mod ice_source;
pub mod link;
mod local_media;
mod media;
mod negotiate;
mod peer_link;
mod room;
pub mod sfu;
mod sinks;
mod start;

pub use bitrate::default_camera_bitrate_bps;
pub use devices::{CameraFeed, MicrophoneFeed, SpeakerFeed};
pub use error::CallError;
pub use events::{CallEvent, LiveStats, TrackKind};
pub use media::{AudioSink, VideoSink};
pub use negotiate::new_call_id;
pub use sinks::RemoteSinks;

use std::path::PathBuf;
use std::sync::Arc;

use parley_proto::{CallKind, PeerId};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::media::{AudioSource, VideoSource};
use crate::rtc::{CandidateType, RtcConfig};
use crate::signaling::{SignalEvent, SignalingClient};
use crate::storage::Profile;
use crate::transfer::TransferCommand;
use crate::{Error, Result};

/// Capacity of a call's command queue, commands.
pub const COMMAND_QUEUE: usize = 32;
/// Capacity of a call's event queue, events.
pub const EVENT_QUEUE: usize = 256;
/// How long an outgoing call rings before it is cancelled, ms.
pub const RING_TIMEOUT_MS: u64 = 60_000;
/// How long the connection may take to come up after accept, ms.
pub const CONNECT_TIMEOUT_MS: u64 = 30_000;
/// How long a call without connectivity waits before it ends, ms (issue 10's
/// default; [`CallOptions::lost_after_ms`]).
pub const DEFAULT_LOST_AFTER_MS: u64 = 30_000;
/// Lowest default camera bitrate, bits/s: what a camera of 640x480 or less at
/// 30 frames/s gets (≥ 30 dB PSNR at 320x180, 15 frames/s); see
/// [`default_camera_bitrate_bps`].
pub const DEFAULT_VIDEO_BITRATE_BPS: u32 = 800_000;
/// Highest default camera bitrate, bits/s (1280x720 at 30 frames/s gets
/// 1.94 Mbit/s; 1920x1080 at 30 frames/s reaches this). Chromium sends about
/// 2.3 Mbit/s for the same 1280x720 camera on an unconstrained link.
pub const MAX_DEFAULT_VIDEO_BITRATE_BPS: u32 = 2_500_000;
/// Bits per pixel per frame a camera's default bitrate allows (H.264
/// Constrained Baseline at 0.07 bit/pixel keeps talking heads sharp at 720p).
pub const DEFAULT_VIDEO_BITS_PER_PIXEL: f64 = 0.07;
/// Default Opus bitrate, bits/s.
pub const DEFAULT_AUDIO_BITRATE_BPS: u32 = 32_000;
/// Default screen-share bitrate, bits/s (sharp text at 1080p, 5–30 frames/s).
pub const DEFAULT_SCREEN_BITRATE_BPS: u32 = 2_500_000;
/// Track id of the camera track (docs/protocol.md §8.4).
pub const CAMERA_TRACK_ID: &str = "camera";
/// Track id of the microphone track (docs/protocol.md §8.4).
pub const MICROPHONE_TRACK_ID: &str = "microphone";
/// Track id of the screen track (docs/protocol.md §8.4).
pub const SCREEN_TRACK_ID: &str = "screen";

/// Which side of the call we are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Direction {
    /// We invite `to`.
    Outgoing {
        /// The callee.
        to: PeerId,
        /// Our id for the call ([`new_call_id`]).
        call_id: String,
    },
    /// We accept `call_id` from `from` (after the server delivered its invite).
    Incoming {
        /// The call id from the invite.
        call_id: String,
        /// The caller.
        from: PeerId,
    },
    /// We join the running group call `call_id`, invited by `from`; `members`
    /// are its joined members from the invite (docs/protocol.md §6.4). Each of
    /// them offers us a peer link, and we answer.
    Join {
        /// The call id from the invite.
        call_id: String,
        /// The member that invited us.
        from: PeerId,
        /// The joined members, `from` included.
        members: Vec<PeerId>,
    },
}

impl Direction {
    /// The call id.
    pub fn call_id(&self) -> &str {
        match self {
            Direction::Outgoing { call_id, .. }
            | Direction::Incoming { call_id, .. }
            | Direction::Join { call_id, .. } => call_id,
        }
    }
}

/// What to send, record and do in a call.
pub struct CallOptions {
    /// A call (media and data channels, the callee rings) or a data session (chat
    /// and files outside a call, answered by the callee's client); see
    /// docs/protocol.md §6.1.
    pub kind: CallKind,
    /// Peer connection settings (ICE servers, bind addresses, buffers).
    pub rtc: RtcConfig,
    /// The camera (or file, or pattern); `None` sends no video.
    pub video_source: Option<Box<dyn VideoSource>>,
    /// The microphone (or file, or tone); `None` sends no audio.
    pub audio_source: Option<Box<dyn AudioSource>>,
    /// The camera's H.264 bitrate ceiling, bits/s (the congestion controller
    /// sends less when the link needs it). `None`: by the camera's size and
    /// frame rate, [`default_camera_bitrate_bps`].
    pub video_bitrate_bps: Option<u32>,
    /// Where decoded remote video goes (recorders, renderers).
    pub video_sinks: Vec<Box<dyn VideoSink>>,
    /// A screen to share as soon as the call is connected (more can be started and
    /// stopped later with [`CallCommand::ShareScreen`]).
    pub screen_source: Option<Box<dyn VideoSource>>,
    /// H.264 target bitrate of the screen track, bits/s.
    pub screen_bitrate_bps: u32,
    /// Where the peer's decoded shared screen goes.
    pub screen_sinks: Vec<Box<dyn VideoSink>>,
    /// Where decoded remote audio goes (recorders, speakers).
    pub audio_sinks: Vec<Box<dyn AudioSink>>,
    /// Sinks per member and track, asked for as each track arrives; when set,
    /// `video_sinks`, `screen_sinks` and `audio_sinks` are not used.
    pub remote_sinks: Option<Box<dyn RemoteSinks>>,
    /// The invite said the call's media goes through an SFU (protocol 4
    /// `invite.sfu`, docs/protocol.md §6.5): peer links then carry chat, files
    /// and control but no media, which goes to the SFU once the server's access
    /// arrives. Default false (a caller learns it from that access).
    pub via_sfu: bool,
    /// Ignore any SFU the server offers (media stays peer to peer): for calls
    /// through a server we do not trust, e.g. one found nearby. Its `sfu` access
    /// and feeds are logged and dropped, and `via_sfu` is then ignored too.
    /// Default false.
    pub refuse_sfu: bool,
    /// Do not use the STUN/TURN servers the signaling server hands out
    /// (`ice_servers`, docs/protocol.md §5.1), only `rtc.ice_servers`, which may be
    /// empty (host candidates then, enough on one LAN): for a server we do not
    /// trust, whose TURN relay would see who talks to whom and when. Default false.
    pub refuse_server_ice: bool,
    /// Chat messages to send once the chat channel is open, in order.
    pub chat: Vec<String>,
    /// Files to offer, in order.
    pub send_files: Vec<FileToSend>,
    /// Accept offered files into this folder; `None` declines them.
    pub receive_dir: Option<PathBuf>,
    /// Whether offered files wait for the user's [`CallCommand::Transfer`] answer
    /// (announced by [`crate::transfer::TransferEvent::Incoming`]) instead of being accepted at once.
    pub ask_before_receiving: bool,
    /// Where chat history is stored, if anywhere.
    pub profile: Option<Arc<Profile>>,
    /// How long a call that lost its connection waits for it to come back (ICE
    /// restarts, or the network by itself) before it ends, ms.
    pub lost_after_ms: u64,
    /// How our audio copes with loss (Opus FEC and DTX); all on by default.
    pub audio: AudioOptions,
    /// Echo cancellation, noise suppression and gain control for a live
    /// microphone (files and test signals are sent as they are); all on by
    /// default. Calls whose media goes through the SFU are not processed yet.
    pub audio_processing: crate::media::ProcessingConfig,
}

/// How the call's audio copes with a lossy network (issue 15); each part on by
/// default, each switchable (`parley-cli --no-fec`, `--no-dtx`) so its effect
/// can be measured. Calls whose media goes through the SFU use the defaults,
/// with the encoder's FEC tuned for 5 % loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioOptions {
    /// Opus in-band FEC (RFC 6716 §2.1.7): our encoder adds it, tuned to the
    /// loss the receivers report (RTCP "fraction lost", RFC 3550 §6.4.1), and
    /// a packet lost on the way to us is recovered from the next one's.
    pub fec: bool,
    /// Opus discontinuous transmission (RFC 6716 §2.1.9): packets of one or
    /// two bytes while we are silent.
    pub dtx: bool,
}

impl Default for AudioOptions {
    fn default() -> Self {
        Self {
            fec: true,
            dtx: true,
        }
    }
}

impl Default for CallOptions {
    fn default() -> Self {
        Self {
            kind: CallKind::Media,
            rtc: RtcConfig::default(),
            video_source: None,
            audio_source: None,
            video_bitrate_bps: None,
            video_sinks: Vec::new(),
            screen_source: None,
            screen_bitrate_bps: DEFAULT_SCREEN_BITRATE_BPS,
            screen_sinks: Vec::new(),
            audio_sinks: Vec::new(),
            remote_sinks: None,
            via_sfu: false,
            refuse_sfu: false,
            refuse_server_ice: false,
            chat: Vec::new(),
            send_files: Vec::new(),
            receive_dir: None,
            ask_before_receiving: false,
            profile: None,
            lost_after_ms: DEFAULT_LOST_AFTER_MS,
            audio: AudioOptions::default(),
            audio_processing: Default::default(),
        }
    }
}

/// A file to offer to the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileToSend {
    /// Where it is.
    pub path: PathBuf,
    /// The name to offer it under (default: the path's file name). The receiver
    /// sanitises whatever name arrives.
    pub name: Option<String>,
    /// The member to send it to, in a group call (the one it was dropped on);
    /// `None`: the first member, the only one of a one-to-one call.
    pub to: Option<PeerId>,
    /// The transfer id to offer it under, 32 lowercase hex chars: the same id
    /// for every attempt at one queued file (the client's outbox); `None` (or
    /// not 32 hex chars): a new random id.
    pub transfer_id: Option<String>,
    /// The dropped folder it belongs to (the receiver asks once for all of
    /// it); `None` for a file sent on its own.
    pub batch: Option<crate::transfer::Batch>,
}

/// A screen (or any video) to send on the screen track.
pub struct ScreenFeed(pub Box<dyn VideoSource>);

impl std::fmt::Debug for ScreenFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ScreenFeed({}x{})", self.0.width(), self.0.height())
    }
}

/// Asks the call task to do something.
#[derive(Debug)]
#[non_exhaustive]
pub enum CallCommand {
    /// End the call (cancel it if it is still ringing).
    Hangup,
    /// Send a chat message.
    Chat(String),
    /// Offer a file.
    SendFile(FileToSend),
    /// Offer files, in order: as many [`CallCommand::SendFile`]s, in one
    /// command (a folder of 10,000 files is handed over with one wait on the
    /// call's command queue, not 10,000).
    SendFiles(Vec<FileToSend>),
    /// Accept or decline an offered file, or cancel a transfer either way.
    Transfer(TransferCommand),
    /// Mute the microphone (send silence) and/or turn the camera off (send black).
    SetMuted {
        /// Microphone muted.
        audio: bool,
        /// Camera off.
        video: bool,
    },
    /// Start sending this screen on the screen track (replacing one already
    /// shared); the peer is told on the control channel.
    ShareScreen(ScreenFeed),
    /// Send this camera from now on (the user picked another device); the old
    /// source is stopped first and the peer's decoder starts again at a keyframe.
    /// Before the call is connected it replaces [`CallOptions::video_source`].
    SwitchCamera(CameraFeed),
    /// Send this microphone from now on (mute state is kept).
    SwitchMicrophone(MicrophoneFeed),
    /// Play the members' audio here from now on (the old sinks are finished):
    /// with [`CallOptions::remote_sinks`] each member's from new sinks it gives,
    /// otherwise the first member's on the feed's sinks.
    SwitchSpeakers(SpeakerFeed),
    /// Stop sharing the screen (nothing happens when not sharing).
    StopScreenShare,
    /// Invite this contact into the running call (a group call from then on,
    /// docs/protocol.md §6.4); [`CallEvent::PeerJoined`] or
    /// [`CallEvent::InviteFailed`] follows.
    Invite(PeerId),
}

/// Statistics of a finished call, printed by `parley-cli --stats` as one JSON line.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CallReport {
    /// Our call id.
    pub call_id: String,
    /// Accept → first decoded remote video frame, ms.
    pub setup_ms: Option<u64>,
    /// Accept → peer connection connected, ms.
    pub connect_ms: Option<u64>,
    /// Video frames encoded and sent.
    pub frames_sent: u64,
    /// Video frames received and decoded.
    pub frames_received: u64,
    /// Screen frames encoded and sent.
    pub screen_frames_sent: u64,
    /// Remote screen frames received and decoded.
    pub screen_frames_received: u64,
    /// Opus packets sent.
    pub audio_packets_sent: u64,
    /// Opus packets received (before loss concealment).
    pub audio_packets_received: u64,
    /// Bytes sent on the selected candidate pair (of the first remaining
    /// member's link, in a group call).
    pub bytes_sent: u64,
    /// Bytes sent to every member still in the call at its end, summed over
    /// their links' selected candidate pairs (a one-to-one call: `bytes_sent`).
    pub uplink_bytes: u64,
    /// Bytes received on the selected candidate pair.
    pub bytes_received: u64,
    /// Current ICE round-trip time at the end, ms.
    pub rtt_ms: Option<f64>,
    /// Local candidate type of the selected pair.
    pub local_candidate: Option<CandidateType>,
    /// Remote candidate type of the selected pair.
    pub remote_candidate: Option<CandidateType>,
    /// `udp`, `tcp` or `tls` when our side of the selected pair is a TURN relay.
    pub relay_transport: Option<String>,
    /// Our address of the selected pair at the end, `ip:port`.
    pub local_address: Option<String>,
    /// The peer's address of the selected pair at the end, `ip:port`.
    pub remote_address: Option<String>,
    /// Chat messages sent.
    pub chat_sent: u64,
    /// Chat messages received.
    pub chat_received: u64,
    /// Files delivered (the peer confirmed the hash).
    pub files_sent: u64,
    /// Files received and verified.
    pub files_received: u64,
    /// Transfer failures (ours or the peer's), in words.
    pub transfer_errors: Vec<String>,
    /// ICE restarts we offered (RFC 8445 §9), rolled-back ones included.
    pub ice_restarts: u32,
    /// Longest time between two decoded remote camera frames, ms (0 before the
    /// second frame): how long the worst freeze or outage lasted for the user.
    pub max_frame_gap_ms: u64,
    /// Remote camera freezes: gaps of at least 500 ms between decoded frames.
    pub freezes: u64,
    /// Lost audio packets recovered from the next one's Opus in-band FEC.
    pub audio_recovered: u64,
    /// Audio concealed (Opus PLC), 20 ms frames: lost and not recovered, or
    /// waiting for a packet after the jitter buffer's delay grew.
    pub audio_concealed: u64,
    /// The audio jitter buffer's delay at the end, ms.
    pub jitter_delay_ms: u64,
    /// The camera encoder's target bitrate at the end, bits/s (set from the
    /// congestion controller's estimate; 0 without a camera).
    pub video_target_bps: u64,
    /// The screen encoder's target bitrate at the end, bits/s (0 when not sharing).
    pub screen_target_bps: u64,
    /// The congestion controller's estimate at the end, bits/s (the lowest over
    /// the members' links; absent while congestion control is off).
    pub estimate_bps: Option<f64>,
    /// The SFU's share, when the call's media went through one (never its PIN
    /// or token); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sfu: Option<sfu::SfuSummary>,
    /// Why the call ended.
    pub end_reason: String,
}

/// A running call.
pub struct Call {
    commands: mpsc::Sender<CallCommand>,
    events: mpsc::Receiver<CallEvent>,
    task: JoinHandle<Result<CallReport>>,
}

impl Call {
    /// Starts a call task. It takes over `signal_events` (the signaling client's event
    /// stream) until the call ends; the stream is handed back by [`finish`](Self::finish)
    /// only implicitly (drop) — the CLI uses one call per connection.
    pub fn start(
        signaling: SignalingClient,
        signal_events: mpsc::Receiver<SignalEvent>,
        direction: Direction,
        options: CallOptions,
    ) -> Call {
        let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_QUEUE);
        let (ev_tx, ev_rx) = mpsc::channel(EVENT_QUEUE);
        let task = tokio::spawn(start::run(
            signaling,
            signal_events,
            direction,
            options,
            cmd_rx,
            ev_tx,
        ));
        Call {
            commands: cmd_tx,
            events: ev_rx,
            task,
        }
    }

    /// Sends a command to the call.
    ///
    /// Errors: [`Error::Call`] if the call has ended.
    pub async fn command(&self, cmd: CallCommand) -> Result<()> {
        self.commands
            .send(cmd)
            .await
            .map_err(|_| Error::from(CallError::Ended))
    }

    /// The next event; `None` after the call ended and all events were read.
    pub async fn next_event(&mut self) -> Option<CallEvent> {
        self.events.recv().await
    }

    /// Waits for the call task to end and returns its report.
    ///
    /// Errors: whatever ended the call abnormally (refused, failed to connect, a
    /// transfer that failed).
    pub async fn finish(self) -> Result<CallReport> {
        drop(self.events);
        self.task.await.map_err(|e| {
            Error::from(CallError::TaskFailed {
                what: "call",
                cause: e.to_string(),
            })
        })?
    }
}
