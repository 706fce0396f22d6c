//! The client task's handling of the commands a `Client` sends it: calls,
//! chat, files, transfers, devices and Nearby.

use parley_proto::ClientMessage;

use super::Task;
use crate::call::CallError;
use crate::call::{new_call_id, CallCommand, CameraFeed, Direction, MicrophoneFeed, SpeakerFeed};
use crate::client::servers::Via;
use crate::client::{CallPhase, ClientEvent, Command, DeviceKind, PreviewSource};
use crate::transfer::TransferCommand;
use crate::Result;

impl Task {
    pub(super) async fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Call(peer, reply) => {
                let r = self
                    .start_call(Direction::Outgoing {
                        to: peer,
                        call_id: new_call_id(),
                    })
                    .await;
                let _ = reply.send(r);
            }
            Command::Accept(call_id, reply) => {
                let r = match self.pending.take() {
                    Some(p) if p.call_id == call_id => {
                        let members = std::mem::take(&mut self.pending_members);
                        let direction = if members.is_empty() {
                            Direction::Incoming {
                                call_id,
                                from: p.peer,
                            }
                        } else {
                            Direction::Join {
                                call_id,
                                from: p.peer,
                                members,
                            }
                        };
                        self.start_call(direction).await
                    }
                    other => {
                        self.pending = other;
                        Err(CallError::NotRinging.into())
                    }
                };
                let _ = reply.send(r);
            }
            Command::Decline(call_id) => {
                if self.pending.as_ref().is_some_and(|p| p.call_id == call_id) {
                    let mut info = self.pending.take().expect("checked");
                    let via = std::mem::replace(&mut self.pending_via, Via::Home);
                    if let Some(server) = self.servers.get(&via) {
                        let _ = server
                            .send(ClientMessage::Decline {
                                call_id,
                                reason: None,
                            })
                            .await;
                    }
                    info.state = CallPhase::Ended;
                    info.end_reason = Some("declined".into());
                    self.emit(ClientEvent::Call(info)).await;
                }
            }
            Command::Hangup => {
                if let Some(a) = &self.call {
                    let _ = a.call.command(CallCommand::Hangup).await;
                }
            }
            Command::ShareScreen(feed, name, reply) => {
                let r = match &mut self.call {
                    Some(a) if a.info.state == CallPhase::Connected => {
                        let _ = a.call.command(CallCommand::ShareScreen(feed)).await;
                        a.info.sharing_screen = true;
                        a.info.sharing_name = name;
                        Ok(a.info.clone())
                    }
                    _ => {
                        // Closing a capture (a portal session) may wait a moment:
                        // not on this task.
                        tokio::task::spawn_blocking(move || drop(feed));
                        Err(CallError::NotConnected.into())
                    }
                };
                let _ = reply.send(r);
            }
            Command::StopScreenShare(reply) => {
                let r = match &mut self.call {
                    Some(a) => {
                        let _ = a.call.command(CallCommand::StopScreenShare).await;
                        a.info.sharing_screen = false;
                        a.info.sharing_name = None;
                        Ok(a.info.clone())
                    }
                    None => Err(CallError::NotInCall.into()),
                };
                let _ = reply.send(r);
            }
            Command::SetMuted(audio, video, reply) => {
                let r = match &mut self.call {
                    Some(a) => {
                        let _ = a.call.command(CallCommand::SetMuted { audio, video }).await;
                        a.info.muted_audio = audio;
                        a.info.muted_video = video;
                        Ok(a.info.clone())
                    }
                    None => Err(CallError::NotInCall.into()),
                };
                if let Ok(info) = &r {
                    self.emit(ClientEvent::Call(info.clone())).await;
                }
                let _ = reply.send(r);
            }
            Command::Invite(peer, reply) => {
                let r = self.invite(peer).await;
                if let Ok(info) = &r {
                    self.emit(ClientEvent::Call(info.clone())).await;
                }
                let _ = reply.send(r);
            }
            Command::Chat(peer, text, reply) => {
                let r = self
                    .send_to_peer(&peer, vec![CallCommand::Chat(text)])
                    .await
                    .map(drop);
                let _ = reply.send(r);
            }
            Command::SendFiles(peer, paths, reply) => {
                let r = self.send_files(&peer, &paths).await;
                let _ = reply.send(r);
            }
            Command::Transfer(TransferCommand::Cancel { transfer_id }, reply)
                if !self.outbox.is_active(&transfer_id)
                    && self.cancel_queued(&transfer_id).await =>
            {
                let _ = reply.send(Ok(()));
            }
            Command::Transfer(TransferCommand::Cancel { transfer_id }, reply)
                if self.cancel_batch(&transfer_id).await =>
            {
                let _ = reply.send(Ok(()));
            }
            Command::Transfer(command, reply) => {
                if let TransferCommand::Cancel { transfer_id } = &command {
                    // A queued file in flight: cancelled even if its call ends
                    // before the command reaches it.
                    self.outbox.cancel_sent(transfer_id);
                }
                // Transfer ids are unique: whichever call or session has it acts.
                let in_call = match &self.call {
                    Some(a) => a
                        .call
                        .command(CallCommand::Transfer(command.clone()))
                        .await
                        .is_ok(),
                    None => false,
                };
                let in_session = self
                    .sessions
                    .broadcast(|| CallCommand::Transfer(command.clone()))
                    .await;
                let r = if in_call || in_session {
                    Ok(())
                } else {
                    Err(CallError::NoSuchTransfer.into())
                };
                let _ = reply.send(r);
            }
            Command::SwitchDevice(kind, reply) => {
                let r = match &self.call {
                    Some(a) => match self.switch_command(kind) {
                        Ok(Some(command)) => a.call.command(command).await,
                        Ok(None) => Ok(()),
                        Err(e) => Err(e),
                    },
                    None => Ok(()),
                };
                let _ = reply.send(r);
            }
            Command::SetNearbyVisible(on, reply) => {
                let r = self.nearby.as_mut().map_or(Ok(()), |n| n.set_visible(on));
                let _ = reply.send(r);
            }
            Command::SetNearbyName(name) => {
                if let Some(nearby) = &mut self.nearby {
                    nearby.set_name(name).await;
                }
            }
            Command::Watch => {
                self.watch_contacts().await;
                // A contact just added may be nearby: reach them now.
                self.sync_servers().await;
            }
            Command::Shutdown(_) => {}
        }
    }

    /// Opens the device of `kind` for a running call; `None` when there is none
    /// to switch to (no microphone: the call keeps what it has).
    fn switch_command(&self, kind: DeviceKind) -> Result<Option<CallCommand>> {
        let media = &self.config.media;
        Ok(match kind {
            DeviceKind::Camera => media.video_source()?.map(|v| {
                let preview = PreviewSource::new(v, self.config.local_video.clone());
                CallCommand::SwitchCamera(CameraFeed(Box::new(preview)))
            }),
            DeviceKind::Microphone => media
                .audio_source()?
                .map(|a| CallCommand::SwitchMicrophone(MicrophoneFeed(a))),
            // The call's AppSinks open each member's new speakers themselves
            // (with its level meter): the feed carries none.
            DeviceKind::Speaker => Some(CallCommand::SwitchSpeakers(SpeakerFeed(Vec::new()))),
        })
    }
}
