//! The signaling half of a call: ringing until accepted, then SDP and candidates.

use std::time::Duration;

use parley_proto::binding::{DescriptionBinding, DescriptionType};
use parley_proto::{ClientMessage, ErrorCode, PeerId, ServerMessage};
use rand::RngCore as _;
use tokio::sync::mpsc;

use super::file_sends::take_cancelled;
use super::{CallCommand, CallEvent, CallOptions, RING_TIMEOUT_MS};
use crate::call::CallError;
use crate::rtc::IceCandidate;
use crate::signaling::{SignalEvent, SignalingClient};
use crate::transfer::TransferCommand;
use crate::{Error, Result};

/// A fresh call id: 16 random bytes, hex (fits the protocol's 1–64 `[A-Za-z0-9_-]`).
pub fn new_call_id() -> String {
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// How ringing ended, when it did not fail.
pub(super) enum RingOutcome {
    /// The callee accepted.
    Accepted,
    /// We hung up while it rang (the server was told to cancel).
    CancelledByUs,
}

/// Invites `to` to a call or data session ([`CallOptions::kind`]) and waits until
/// it is accepted. Chat messages and files asked for meanwhile are added to
/// `opts.chat` / `opts.send_files`, to be sent once the data channels open.
///
/// The server's SFU messages for the call that arrive meanwhile (a caller's
/// access comes while the callee rings, docs/protocol.md §6.5) are kept in
/// `early`, for the room.
///
/// Errors: [`CallError`] when the callee declines, is busy or offline, or does not
/// answer within [`RING_TIMEOUT_MS`].
#[allow(clippy::too_many_arguments)]
pub(super) async fn ring(
    sig: &SignalingClient,
    sig_rx: &mut mpsc::Receiver<SignalEvent>,
    cmd_rx: &mut mpsc::Receiver<CallCommand>,
    events: &mpsc::Sender<CallEvent>,
    call_id: &str,
    to: &PeerId,
    opts: &mut CallOptions,
    early: &mut Vec<ServerMessage>,
) -> Result<RingOutcome> {
    sig.send(ClientMessage::Invite {
        call_id: call_id.to_owned(),
        to: to.clone(),
        kind: opts.kind,
    })
    .await?;
    let deadline = tokio::time::sleep(Duration::from_millis(RING_TIMEOUT_MS));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => {
                let cancel = ClientMessage::Cancel { call_id: call_id.to_owned(), to: Some(to.clone()) };
                let _ = sig.send(cancel).await;
                return Err(CallError::NoAnswer { peer: to.clone() }.into());
            }
            cmd = cmd_rx.recv() => match cmd {
                Some(CallCommand::Hangup) | None => {
                    let cancel = ClientMessage::Cancel { call_id: call_id.to_owned(), to: Some(to.clone()) };
                    sig.send(cancel).await?;
                    return Ok(RingOutcome::CancelledByUs);
                }
                // Chat and files wait for their data channel.
                Some(CallCommand::Chat(text)) => opts.chat.push(text),
                Some(CallCommand::SendFile(file)) => opts.send_files.push(file),
                Some(CallCommand::SendFiles(files)) => opts.send_files.extend(files),
                // A file (or folder) cancelled before the call was answered
                // is never offered.
                Some(CallCommand::Transfer(TransferCommand::Cancel { transfer_id })) => {
                    for (_, event) in take_cancelled(&mut opts.send_files, &transfer_id) {
                        let _ = events.send(CallEvent::Transfer { peer: to.clone(), event }).await;
                    }
                }
                Some(other) => tracing::debug!("ignoring {other:?} while ringing"),
            },
            ev = sig_rx.recv() => {
                let Some(ev) = ev else {
                    return Err(Error::Signaling("signaling connection closed".into()));
                };
                let SignalEvent::Message(msg) = ev else { continue };
                if msg.call_id() != Some(call_id) {
                    continue;
                }
                match msg {
                    ServerMessage::Ringing { .. } => {
                        let _ = events.send(CallEvent::Ringing { peer: to.clone() }).await;
                    }
                    ServerMessage::Accept { .. } => return Ok(RingOutcome::Accepted),
                    // The server ends an invite that rang out (docs/protocol.md §6).
                    ServerMessage::Decline { reason: Some(r), .. } if r == "no answer" => {
                        return Err(CallError::NoAnswer { peer: to.clone() }.into())
                    }
                    ServerMessage::Decline { reason, .. } => {
                        return Err(CallError::Declined { peer: to.clone(), reason }.into())
                    }
                    ServerMessage::Busy { .. } => {
                        return Err(CallError::Busy { peer: to.clone() }.into())
                    }
                    ServerMessage::Cancel { .. } | ServerMessage::Hangup { .. } => {
                        return Err(CallError::EndedBeforeAnswer.into())
                    }
                    ServerMessage::Error { code: ErrorCode::Offline, .. } => {
                        return Err(CallError::Offline { peer: to.clone(), name: None }.into())
                    }
                    ServerMessage::Error { code: ErrorCode::SfuUnavailable, message, .. } => {
                        tracing::warn!("no SFU for this call: {message}");
                    }
                    ServerMessage::Error { code, message, .. } => {
                        return Err(Error::Refused { code: code.as_str().to_owned(), message })
                    }
                    msg @ (ServerMessage::Sfu { .. } | ServerMessage::SfuFeed { .. }) => early.push(msg),
                    _ => {}
                }
            }
        }
    }
}

/// Sends a local ICE candidate to the member `to`.
pub(super) async fn send_candidate(
    sig: &SignalingClient,
    call_id: &str,
    to: &PeerId,
    c: IceCandidate,
) -> Result<()> {
    sig.send(ClientMessage::Candidate {
        to: Some(to.clone()),
        call_id: call_id.to_owned(),
        candidate: c.candidate,
        sdp_mid: c.sdp_mid,
        sdp_mline_index: c.sdp_mline_index,
    })
    .await
}

/// The `reason` of a `hangup` sent when we refuse the other side's description
/// (docs/protocol.md §6.3).
pub(super) const TAMPERED_REASON: &str = "tampered";

/// The `reason` of a `hangup` sent when the other side's offer has no codec we
/// can send for one of its media sections (docs/protocol.md §8.4).
pub(super) const UNSUPPORTED_CODECS_REASON: &str = "unsupported codecs";

/// Signs our description `sdp` of `kind` for `call_id` with the recipient `to`;
/// the `sig` field of `offer` / `answer` (docs/protocol.md §6.3).
///
/// Errors: [`Error::Rtc`] when our own description has no DTLS fingerprint or ICE
/// ufrag (a webrtc-rs fault: there would be nothing to protect).
pub(super) fn sign_description(
    sig: &SignalingClient,
    call_id: &str,
    to: &PeerId,
    kind: DescriptionType,
    sdp: &str,
) -> Result<String> {
    let binding = DescriptionBinding::from_sdp(call_id, sig.id(), to, kind, sdp)
        .map_err(|e| Error::Rtc(format!("our own {}: {e}", kind.as_str())))?;
    Ok(binding.sign(sig.signing_key()))
}

/// Checks that `sdp`, a description of `kind` for `call_id`, was signed by `peer`
/// (the party we are in the call with, whatever the server says sent it) for us.
///
/// Errors: [`Error::Tampered`] when the signature is missing, malformed or does
/// not match, or the description carries no fingerprint or ufrag.
pub(super) fn verify_description(
    sig: &SignalingClient,
    call_id: &str,
    peer: &PeerId,
    kind: DescriptionType,
    sdp: &str,
    signature: Option<&str>,
) -> Result<()> {
    DescriptionBinding::from_sdp(call_id, peer, sig.id(), kind, sdp)
        .and_then(|b| b.verify(signature))
        .map_err(|e| {
            tracing::warn!(%call_id, %peer, "refused the {}: {e}", kind.as_str());
            Error::Tampered(format!(
                "the {} from {peer} does not carry a valid signature from that peer ({e})",
                kind.as_str()
            ))
        })
}
