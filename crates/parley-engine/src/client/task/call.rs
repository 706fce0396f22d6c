//! The client task's side of the current call: starting it, following its
//! events and members, the active speaker, ending it.

use std::sync::Arc;

use parley_proto::PeerId;
use tokio::sync::mpsc;

use super::{Active, Task, CALL_SIGNAL_QUEUE};
use crate::call::CallError;
use crate::call::{Call, CallCommand, CallEvent, CallOptions, Direction};
use crate::client::members::{AppSinks, MemberInfo, MemberState, SpeakerPicker};
use crate::client::roster;
use crate::client::servers::Via;
use crate::client::{CallDirection, CallInfo, CallPhase, ClientEvent, PreviewSource};
use crate::storage::Direction as ChatDirection;
use crate::{Error, Result};

use crate::storage::now_ms;

impl Task {
    /// The current call when `peer` is a member of it.
    pub(super) fn call_with(&self, peer: &PeerId) -> Option<&Active> {
        self.call
            .as_ref()
            .filter(|a| a.info.peer == *peer || a.info.members.iter().any(|m| m.id == *peer))
    }

    pub(super) async fn start_call(&mut self, direction: Direction) -> Result<CallInfo> {
        if self.call.is_some() {
            return Err(CallError::AlreadyInCall.into());
        }
        // An outgoing call goes through the server the peer is online on (home
        // when unknown: it then answers `offline`); an answered one through the
        // server its invite came on.
        let via = match &direction {
            Direction::Outgoing { to, .. } => self.presence.route(to).unwrap_or(Via::Home),
            _ => std::mem::replace(&mut self.pending_via, Via::Home),
        };
        let server = self.signaling_for(&via)?;
        let media = Arc::clone(&self.config.media);
        let video = media
            .video_source()?
            .map(|v| Box::new(PreviewSource::new(v, self.local_video.clone())) as _);
        self.member_video.clear();
        self.levels.clear();
        self.speaker = SpeakerPicker::default();
        let sinks = AppSinks {
            slots: self.member_video.clone(),
            first_video: Some(self.remote_video.clone()),
            screen: self.config.remote_screen.clone(),
            media: Arc::clone(&media),
            levels: self.levels.clone(),
        };
        let options = CallOptions {
            rtc: self.config.rtc.clone(),
            video_source: video,
            audio_source: media.audio_source()?,
            audio_processing: media.audio_processing(),
            remote_sinks: Some(Box::new(sinks)),
            receive_dir: Some(self.config.download_dir.clone()),
            ask_before_receiving: self.config.ask_before_receiving,
            profile: Some(Arc::clone(&self.profile)),
            via_sfu: !matches!(direction, Direction::Outgoing { .. })
                && std::mem::take(&mut self.pending_sfu),
            // A server found nearby is trusted only to reach its owner.
            refuse_sfu: via.is_nearby(),
            refuse_server_ice: via.is_nearby(),
            ..Default::default()
        };
        let info = match &direction {
            Direction::Outgoing { to, call_id } => new_info(
                call_id.clone(),
                to.clone(),
                CallDirection::Out,
                CallPhase::RingingOut,
            ),
            Direction::Incoming { call_id, from } | Direction::Join { call_id, from, .. } => {
                new_info(
                    call_id.clone(),
                    from.clone(),
                    CallDirection::In,
                    CallPhase::Connecting,
                )
            }
        };
        let mut info = info;
        if let Direction::Join { from, members, .. } = &direction {
            for m in members.iter().filter(|m| *m != from) {
                info.members
                    .push(MemberInfo::new(m.clone(), MemberState::Connecting));
            }
        }
        let (sig_tx, sig_rx) = mpsc::channel(CALL_SIGNAL_QUEUE);
        let call = Call::start(server, sig_rx, direction, options);
        self.call = Some(Active {
            call,
            info: info.clone(),
            signals: sig_tx,
            via,
        });
        self.emit(ClientEvent::Call(info.clone())).await;
        Ok(info)
    }

    pub(super) async fn on_call_event(&mut self, ev: Option<CallEvent>) {
        let Some(active) = self.call.as_mut() else {
            return;
        };
        let Some(ev) = ev else {
            self.end_call().await;
            return;
        };
        let change = roster::apply(&mut active.info, &ev, now_ms());
        let peer = active.info.peer.clone();
        if let Some(gone) = &change.left {
            self.member_video.remove_peer(gone);
            self.levels.remove(gone);
        }
        if change.changed {
            let info = active.info.clone();
            self.emit(ClientEvent::Call(info)).await;
        }
        match ev {
            CallEvent::InviteFailed { peer: who, reason } => {
                let name = who.as_ref().map(|p| self.name_of(p));
                let message = match name {
                    Some(name) => format!("{name} did not join: {reason}"),
                    None => format!("The invitation failed: {reason}"),
                };
                self.emit(ClientEvent::Error {
                    code: "invite_failed",
                    message,
                })
                .await
            }
            CallEvent::ChatReceived { peer, message } => {
                self.emit(ClientEvent::Chat {
                    peer,
                    message,
                    direction: ChatDirection::Received,
                })
                .await
            }
            CallEvent::ChatSent(message) => {
                self.emit(ClientEvent::Chat {
                    peer,
                    message,
                    direction: ChatDirection::Sent,
                })
                .await
            }
            CallEvent::ChatDelivered { id, .. } => {
                self.emit(ClientEvent::ChatDelivered { id }).await
            }
            CallEvent::Transfer { peer, event } => {
                let event = self.note_transfer(event);
                self.emit(ClientEvent::Transfer { peer, event }).await
            }
            // The overlay shows the link to the first member.
            CallEvent::Stats { stats, peer: from } if from == peer => {
                self.emit(ClientEvent::Stats(stats)).await
            }
            CallEvent::Ended { .. } => self.end_call().await,
            _ => {}
        }
    }

    /// Invites `peer` into the connected call; it shows as ringing.
    pub(super) async fn invite(&mut self, peer: PeerId) -> Result<CallInfo> {
        let Some(active) = self.call.as_mut() else {
            return Err(CallError::NotInCall.into());
        };
        if active.info.state != CallPhase::Connected {
            return Err(CallError::NotConnected.into());
        }
        if active.via.is_nearby() {
            return Err(Error::Invalid(
                "this call runs through a computer nearby: a group call needs a server \
                 everyone uses"
                    .into(),
            ));
        }
        if active.info.members.iter().any(|m| m.id == peer) {
            return Err(Error::Invalid(format!("{peer} is already in the call")));
        }
        active
            .call
            .command(CallCommand::Invite(peer.clone()))
            .await?;
        active
            .info
            .members
            .push(MemberInfo::new(peer, MemberState::Ringing));
        Ok(active.info.clone())
    }

    /// Marks the loudest member as the active speaker when that changed.
    pub(super) async fn check_speaker(&mut self) {
        let levels = self.levels.snapshot();
        let Some(active) = self.call.as_mut() else {
            return;
        };
        let speaker = self.speaker.pick(&levels, std::time::Instant::now());
        if active.info.active_speaker != speaker {
            active.info.active_speaker = speaker;
            let info = active.info.clone();
            self.emit(ClientEvent::Call(info)).await;
        }
    }

    /// Waits for the current call's task and reports its end.
    pub(super) async fn end_call(&mut self) {
        let Some(active) = self.call.take() else {
            return;
        };
        let _ = active.call.command(CallCommand::Hangup).await;
        let mut info = active.info;
        let result = active.call.finish().await;
        self.note_call_ended(&info.call_id).await;
        self.member_video.clear();
        self.levels.clear();
        info.active_speaker = None;
        info.state = CallPhase::Ended;
        info.end_reason = Some(match &result {
            Ok(report) => report.end_reason.clone(),
            Err(e) => e.to_string(),
        });
        if let Err(e) = result {
            self.emit(ClientEvent::Error {
                // A call that broke for a reason without its own code is shown
                // as "call failed", not "something went wrong".
                code: match e.code() {
                    "internal" => "call_failed",
                    code => code,
                },
                message: e.to_string(),
            })
            .await;
        }
        self.emit(ClientEvent::Call(info)).await;
    }
}

/// A call's first view: `peer` its only other member, ringing or connecting.
pub(in crate::client) fn new_info(
    call_id: String,
    peer: PeerId,
    direction: CallDirection,
    state: CallPhase,
) -> CallInfo {
    let member_state = match state {
        CallPhase::RingingOut => MemberState::Ringing,
        _ => MemberState::Connecting,
    };
    CallInfo {
        members: vec![MemberInfo::new(peer.clone(), member_state)],
        active_speaker: None,
        via_sfu: false,
        call_id,
        peer,
        direction,
        state,
        started_at_ms: None,
        muted_audio: false,
        muted_video: false,
        remote_muted_audio: false,
        remote_muted_video: false,
        end_reason: None,
        sharing_screen: false,
        sharing_name: None,
        remote_sharing: false,
        reconnecting: false,
    }
}
