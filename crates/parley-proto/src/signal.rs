//! Signaling messages: JSON text frames over the server's WebSocket.
//!
//! Every frame is one JSON object with a snake_case `type` tag and snake_case
//! fields. Clients send [`ClientMessage`]s, the server sends [`ServerMessage`]s.
//! Parse incoming frames with [`ClientMessage::parse`] / [`ServerMessage::parse`]
//! (which tell an unknown `type` from a malformed frame and validate ids) and
//! produce outgoing ones with `to_json`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::json::{parse_tagged, to_json};
use crate::{PeerId, ProtoError};

/// Most peer ids one `watch` may carry.
pub const MAX_WATCH_IDS: usize = 1000;

/// Most calls one `resume` may list (one media call and the data sessions).
pub const MAX_RESUMED_CALLS: usize = 128;

/// Longest call id, chars.
pub const MAX_CALL_ID_LEN: usize = 64;

/// Checks a call id: 1..=64 chars, each in `[A-Za-z0-9_-]`.
///
/// Errors: [`ProtoError::InvalidCallId`].
pub fn validate_call_id(call_id: &str) -> Result<(), ProtoError> {
    let ok = !call_id.is_empty()
        && call_id.len() <= MAX_CALL_ID_LEN
        && call_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ProtoError::InvalidCallId {
            call_id: call_id.chars().take(MAX_CALL_ID_LEN).collect(),
        })
    }
}

/// What an `invite` asks for.
///
/// On the wire the `kind` field of `invite`; absent means [`CallKind::Media`], so
/// clients that predate it interoperate (docs/protocol.md §6.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallKind {
    /// A call: the callee rings and a person accepts; camera, microphone and screen
    /// tracks plus the data channels. A peer is in at most one media call.
    #[default]
    Media,
    /// A data session: only the chat, file and control data channels, for chat and
    /// files outside a call. The callee's client answers by itself (it accepts only
    /// its contacts) and nothing rings; it does not make anyone busy, and a peer may
    /// hold several next to a media call.
    Data,
}

impl CallKind {
    /// Whether this is [`CallKind::Media`] (the wire default, left out when sending).
    pub fn is_media(&self) -> bool {
        *self == CallKind::Media
    }
}

/// A STUN or TURN server a client may use for ICE (W3C webrtc §4.2.4
/// `RTCIceServer`), as handed out by the server in [`ServerMessage::IceServers`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IceServerInfo {
    /// URLs such as `stun:host:3478`, `turn:host:3478`,
    /// `turn:host:3478?transport=tcp` or `turns:host:5349` (RFC 7064, RFC 7065).
    pub urls: Vec<String>,
    /// TURN username; for short-lived credentials `<expiry unix seconds>:<peer id>`
    /// (TURN REST API, draft-uberti-behave-turn-rest-00 §2.2). Absent for STUN.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// TURN password: base64 of HMAC-SHA1(shared secret, username). Absent for STUN.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub credential: String,
}

/// A call the client still holds, listed in [`ClientMessage::Resume`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ResumedCall {
    /// The call id.
    pub call_id: String,
    /// The other party.
    pub peer: PeerId,
    /// A call or a data session; absent = [`CallKind::Media`].
    #[serde(default, skip_serializing_if = "CallKind::is_media")]
    pub kind: CallKind,
}

fn validate_id(id: &PeerId) -> Result<(), ProtoError> {
    id.verifying_key().map(|_| ())
}

/// A frame a client sends to the signaling server.
///
/// The first frame must be [`ClientMessage::Hello`], then [`ClientMessage::Auth`];
/// everything else is refused until the server has sent `welcome`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ClientMessage {
    /// Opens the handshake. `protocol` must be [`crate::PROTOCOL_VERSION`].
    Hello {
        /// Protocol version the client speaks.
        protocol: u32,
        /// The client's Ed25519 public key, base64url without padding (= its
        /// [`PeerId`]).
        public_key: String,
    },
    /// Answers the server's `challenge`.
    Auth {
        /// base64url signature of [`crate::auth_payload`]`(nonce)`, where `nonce` is
        /// the decoded bytes of the challenge's nonce (see [`crate::sign_challenge`]);
        /// of [`crate::auth_payload_bound`]`(nonce, owner)` when `owner` is set.
        signature: String,
        /// Protocol 5: the peer whose server this is meant to be (its embedded
        /// server, found nearby). The server refuses the sign-in unless it is run
        /// by that peer (docs/protocol.md §3.1).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<PeerId>,
    },
    /// Replaces the set of peers whose presence the client wants to follow
    /// (at most [`MAX_WATCH_IDS`]).
    Watch {
        /// The peers to watch; an empty list stops watching.
        ids: Vec<PeerId>,
    },
    /// Calls a peer. The call id is chosen by the caller (see [`validate_call_id`]).
    Invite {
        /// New, unused call id.
        call_id: String,
        /// The callee.
        to: PeerId,
        /// A call or a data session; absent = [`CallKind::Media`].
        #[serde(default, skip_serializing_if = "CallKind::is_media")]
        kind: CallKind,
    },
    /// Callee: the call is ringing on this side.
    Ringing {
        /// The call.
        call_id: String,
    },
    /// Callee: accepts the call; media negotiation may begin.
    Accept {
        /// The call.
        call_id: String,
    },
    /// Callee: refuses the call.
    Decline {
        /// The call.
        call_id: String,
        /// Optional human-readable reason.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Caller: withdraws an invite that was not accepted yet (in a group call,
    /// the invitation of `to`, docs/protocol.md §6.4).
    Cancel {
        /// The call.
        call_id: String,
        /// The member it is for, in a call of more than two (docs/protocol.md
        /// §6.4); absent in a two-member call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<PeerId>,
    },
    /// Either party: ends the call, whatever its state.
    Hangup {
        /// The call.
        call_id: String,
        /// Why, when it is not a plain hangup: `"tampered"` when the sender refused
        /// the other's description (§6.3); other values are for display.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// SDP offer for an accepted call, relayed to the other party.
    Offer {
        /// The call.
        call_id: String,
        /// The member it is for, in a call of more than two (docs/protocol.md
        /// §6.4); absent in a two-member call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<PeerId>,
        /// Session description (SDP text).
        sdp: String,
        /// The sender's identity signature binding this description to the call
        /// (docs/protocol.md §6.3, [`crate::binding`]); base64url, 86 chars.
        /// Receivers refuse a description without a valid one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sig: Option<String>,
    },
    /// SDP answer for an accepted call, relayed to the other party.
    Answer {
        /// The call.
        call_id: String,
        /// The member it is for, in a call of more than two (docs/protocol.md
        /// §6.4); absent in a two-member call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<PeerId>,
        /// Session description (SDP text).
        sdp: String,
        /// The sender's identity signature binding this description to the call
        /// (docs/protocol.md §6.3, [`crate::binding`]); base64url, 86 chars.
        /// Receivers refuse a description without a valid one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sig: Option<String>,
    },
    /// ICE candidate for an accepted call, relayed to the other party.
    Candidate {
        /// The call.
        call_id: String,
        /// The member it is for, in a call of more than two (docs/protocol.md
        /// §6.4); absent in a two-member call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<PeerId>,
        /// The `candidate:` attribute line; `""` signals end of candidates.
        candidate: String,
        /// Media stream id the candidate belongs to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_mid: Option<String>,
        /// Index of the m-line the candidate belongs to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_mline_index: Option<u16>,
    },
    /// A joined member of a media call invites `to` into it (protocol 3,
    /// docs/protocol.md §6.4).
    Add {
        /// The running call.
        call_id: String,
        /// The contact to invite.
        to: PeerId,
    },
    /// Sent right after every `welcome`: the accepted calls this client still
    /// holds. The server ends this peer's other calls, keeps the listed ones it
    /// knows, and re-creates a listed call it does not know (after a server
    /// restart) once the other party lists it too (docs/protocol.md §6.2).
    Resume {
        /// The calls, at most [`MAX_RESUMED_CALLS`]; empty when there are none.
        calls: Vec<ResumedCall>,
    },
    /// Keep-alive; the server answers `pong`.
    Ping,
}

const CLIENT_TYPES: &[&str] = &[
    "hello",
    "auth",
    "watch",
    "invite",
    "ringing",
    "accept",
    "decline",
    "cancel",
    "hangup",
    "offer",
    "answer",
    "candidate",
    "resume",
    "add",
    "ping",
];

impl ClientMessage {
    /// Parses and validates one text frame.
    ///
    /// Errors: [`ProtoError::Malformed`] (not a JSON object, no string `type`, bad
    /// or missing fields), [`ProtoError::UnknownType`] (a JSON object whose `type`
    /// is not a client message), [`ProtoError::InvalidCallId`],
    /// [`ProtoError::InvalidPeerId`], [`ProtoError::Invalid`] (too many watched
    /// ids or resumed calls). Frame size is not checked here: the transport
    /// enforces it.
    pub fn parse(text: &str) -> Result<ClientMessage, ProtoError> {
        let msg: ClientMessage = parse_tagged(text, CLIENT_TYPES)?;
        msg.validate()?;
        Ok(msg)
    }

    /// Checks the rules serde cannot: call id syntax, peer id validity, watch size.
    ///
    /// Errors: as [`ClientMessage::parse`] for those rules.
    pub fn validate(&self) -> Result<(), ProtoError> {
        match self {
            ClientMessage::Watch { ids } => {
                if ids.len() > MAX_WATCH_IDS {
                    return Err(ProtoError::Invalid {
                        reason: format!(
                            "watch carries {} ids, at most {MAX_WATCH_IDS} allowed",
                            ids.len()
                        ),
                    });
                }
                ids.iter().try_for_each(validate_id)
            }
            ClientMessage::Invite { call_id, to, .. } | ClientMessage::Add { call_id, to } => {
                validate_call_id(call_id)?;
                validate_id(to)
            }
            ClientMessage::Cancel { call_id, to }
            | ClientMessage::Offer { call_id, to, .. }
            | ClientMessage::Answer { call_id, to, .. }
            | ClientMessage::Candidate { call_id, to, .. } => {
                validate_call_id(call_id)?;
                to.iter().try_for_each(validate_id)
            }
            ClientMessage::Auth {
                owner: Some(owner), ..
            } => validate_id(owner),
            ClientMessage::Resume { calls } => {
                if calls.len() > MAX_RESUMED_CALLS {
                    return Err(ProtoError::Invalid {
                        reason: format!(
                            "resume lists {} calls, at most {MAX_RESUMED_CALLS} allowed",
                            calls.len()
                        ),
                    });
                }
                calls.iter().try_for_each(|c| {
                    validate_call_id(&c.call_id)?;
                    validate_id(&c.peer)
                })
            }
            _ => match self.call_id() {
                Some(call_id) => validate_call_id(call_id),
                None => Ok(()),
            },
        }
    }

    /// The message's `type` tag, e.g. `"invite"`.
    pub fn type_name(&self) -> &'static str {
        match self {
            ClientMessage::Hello { .. } => "hello",
            ClientMessage::Auth { .. } => "auth",
            ClientMessage::Watch { .. } => "watch",
            ClientMessage::Invite { .. } => "invite",
            ClientMessage::Ringing { .. } => "ringing",
            ClientMessage::Accept { .. } => "accept",
            ClientMessage::Decline { .. } => "decline",
            ClientMessage::Cancel { .. } => "cancel",
            ClientMessage::Hangup { .. } => "hangup",
            ClientMessage::Offer { .. } => "offer",
            ClientMessage::Answer { .. } => "answer",
            ClientMessage::Candidate { .. } => "candidate",
            ClientMessage::Resume { .. } => "resume",
            ClientMessage::Add { .. } => "add",
            ClientMessage::Ping => "ping",
        }
    }

    /// The call the message is about, if it is a call message.
    pub fn call_id(&self) -> Option<&str> {
        match self {
            ClientMessage::Invite { call_id, .. }
            | ClientMessage::Ringing { call_id }
            | ClientMessage::Accept { call_id }
            | ClientMessage::Decline { call_id, .. }
            | ClientMessage::Cancel { call_id, .. }
            | ClientMessage::Add { call_id, .. }
            | ClientMessage::Hangup { call_id, .. }
            | ClientMessage::Offer { call_id, .. }
            | ClientMessage::Answer { call_id, .. }
            | ClientMessage::Candidate { call_id, .. } => Some(call_id),
            ClientMessage::Hello { .. }
            | ClientMessage::Auth { .. }
            | ClientMessage::Watch { .. }
            | ClientMessage::Resume { .. }
            | ClientMessage::Ping => None,
        }
    }

    /// The frame as compact JSON text.
    pub fn to_json(&self) -> String {
        to_json(self)
    }
}

/// A frame the signaling server sends to a client.
///
/// In call messages `from` is always the other party of the call (the sender of the
/// original client message), as authenticated by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ServerMessage {
    /// Reply to `hello`: sign [`crate::auth_payload`]`(nonce)` and send `auth`.
    Challenge {
        /// Protocol version the server speaks.
        protocol: u32,
        /// base64url of 32 random bytes.
        nonce: String,
    },
    /// Authentication succeeded; the client is now reachable as `id`.
    Welcome {
        /// The client's own id.
        id: PeerId,
    },
    /// The STUN and TURN servers the client should use for ICE unless its user set
    /// their own: sent right after `welcome` when the server has any, and again
    /// before the TURN credentials expire (docs/protocol.md §5.1).
    IceServers {
        /// The servers, in order of preference.
        ice_servers: Vec<IceServerInfo>,
        /// Seconds until the TURN credentials in `ice_servers` expire; absent when
        /// there are none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ttl_s: Option<u64>,
    },
    /// A watched peer's presence: sent once per id right after `watch`, then on
    /// every connect and disconnect.
    Presence {
        /// The watched peer.
        id: PeerId,
        /// Whether it is connected and authenticated.
        online: bool,
    },
    /// Delivered to the callee: `from` is calling (or opens a data session, or
    /// invites it into a running group call).
    Invite {
        /// The call.
        call_id: String,
        /// The caller (in a group call, the member that invited).
        from: PeerId,
        /// A call or a data session; absent = [`CallKind::Media`].
        #[serde(default, skip_serializing_if = "CallKind::is_media")]
        kind: CallKind,
        /// The joined members of a running call it is invited into, `from`
        /// included (docs/protocol.md §6.4); absent for a new call.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        members: Vec<PeerId>,
        /// Whether the call's media runs through an SFU (protocol 4, §6.5): the
        /// invitee's media then goes only to the SFU, once it has its
        /// [`ServerMessage::Sfu`] access. Absent = false.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        sfu: bool,
    },
    /// Delivered to the caller: the callee is ringing.
    Ringing {
        /// The call.
        call_id: String,
        /// The callee.
        from: PeerId,
    },
    /// Delivered to the caller: the callee accepted.
    Accept {
        /// The call.
        call_id: String,
        /// The callee.
        from: PeerId,
    },
    /// Delivered to the caller: the callee declined; the call is over.
    Decline {
        /// The call.
        call_id: String,
        /// The callee.
        from: PeerId,
        /// The callee's reason, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Delivered to the callee: the caller withdrew the invite; the call is over.
    Cancel {
        /// The call.
        call_id: String,
        /// The caller.
        from: PeerId,
    },
    /// Delivered to the caller: the callee (or the caller itself) is already in a
    /// call; the invite was not delivered.
    Busy {
        /// The refused call.
        call_id: String,
        /// The callee.
        from: PeerId,
    },
    /// The other party hung up or disconnected; the call is over.
    Hangup {
        /// The call.
        call_id: String,
        /// The party that hung up.
        from: PeerId,
        /// Why, when it is not a plain hangup: `"tampered"` when the sender refused
        /// the other's description (§6.3); other values are for display.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Relayed SDP offer.
    Offer {
        /// The call.
        call_id: String,
        /// The sender.
        from: PeerId,
        /// Session description (SDP text).
        sdp: String,
        /// The sender's identity signature binding this description to the call
        /// (docs/protocol.md §6.3, [`crate::binding`]); base64url, 86 chars.
        /// Receivers refuse a description without a valid one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sig: Option<String>,
    },
    /// Relayed SDP answer.
    Answer {
        /// The call.
        call_id: String,
        /// The sender.
        from: PeerId,
        /// Session description (SDP text).
        sdp: String,
        /// The sender's identity signature binding this description to the call
        /// (docs/protocol.md §6.3, [`crate::binding`]); base64url, 86 chars.
        /// Receivers refuse a description without a valid one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sig: Option<String>,
    },
    /// Relayed ICE candidate.
    Candidate {
        /// The call.
        call_id: String,
        /// The sender.
        from: PeerId,
        /// The `candidate:` attribute line; `""` signals end of candidates.
        candidate: String,
        /// Media stream id the candidate belongs to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_mid: Option<String>,
        /// Index of the m-line the candidate belongs to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_mline_index: Option<u16>,
    },
    /// Delivered to the joined members of a group call other than its inviter
    /// (who gets `accept`): `member` joined, and expects an offer from each of
    /// them (docs/protocol.md §6.4).
    Joined {
        /// The call.
        call_id: String,
        /// The new member.
        member: PeerId,
    },
    /// Delivered to the other members of a group call that goes on: `member`
    /// hung up, disconnected for good, or declined (docs/protocol.md §6.4).
    Left {
        /// The call.
        call_id: String,
        /// The member that left.
        member: PeerId,
        /// Its reason, when it gave one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Delivered to a joined member of a call whose media runs through an SFU
    /// (protocol 4, docs/protocol.md §6.5): its access to the room, and the
    /// feeds of the members admitted before it. Sent once per member, after it
    /// joined.
    Sfu {
        /// The call.
        call_id: String,
        /// This member's access (secrets: never log them).
        sfu: SfuAccess,
        /// The other members' feeds known so far.
        #[serde(default)]
        feeds: Vec<SfuFeed>,
    },
    /// Delivered to the members that have their [`ServerMessage::Sfu`] access:
    /// `member` was admitted to the SFU room as `feed` (protocol 4, §6.5).
    SfuFeed {
        /// The call.
        call_id: String,
        /// The member.
        member: PeerId,
        /// Its feed id.
        feed: u64,
    },
    /// Reply to `ping`.
    Pong,
    /// A request was refused or the frame was bad; see [`ErrorCode`].
    Error {
        /// Machine-readable reason.
        code: ErrorCode,
        /// Human-readable detail (for logs; do not match on it).
        message: String,
        /// The call the refused request was about, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call_id: Option<String>,
    },
}

const SERVER_TYPES: &[&str] = &[
    "challenge",
    "welcome",
    "ice_servers",
    "presence",
    "invite",
    "ringing",
    "accept",
    "decline",
    "cancel",
    "busy",
    "hangup",
    "offer",
    "answer",
    "candidate",
    "joined",
    "left",
    "sfu",
    "sfu_feed",
    "pong",
    "error",
];

impl ServerMessage {
    /// Parses one text frame received from the server and validates the peer ids
    /// it carries.
    ///
    /// Errors: [`ProtoError::Malformed`], [`ProtoError::UnknownType`] (clients
    /// should ignore those, for forward compatibility), [`ProtoError::InvalidPeerId`].
    pub fn parse(text: &str) -> Result<ServerMessage, ProtoError> {
        let msg: ServerMessage = parse_tagged(text, SERVER_TYPES)?;
        match &msg {
            ServerMessage::Welcome { id } | ServerMessage::Presence { id, .. } => validate_id(id)?,
            ServerMessage::Invite { from, members, .. } => {
                validate_id(from)?;
                members.iter().try_for_each(validate_id)?;
            }
            ServerMessage::Sfu { feeds, .. } => {
                feeds.iter().map(|f| &f.member).try_for_each(validate_id)?;
            }
            ServerMessage::SfuFeed { member, .. } => validate_id(member)?,
            _ => {
                if let Some(from) = msg.from() {
                    validate_id(from)?;
                }
            }
        }
        Ok(msg)
    }

    /// Builds an `error` frame.
    pub fn error(code: ErrorCode, message: impl Into<String>, call_id: Option<String>) -> Self {
        ServerMessage::Error {
            code,
            message: message.into(),
            call_id,
        }
    }

    /// The message's `type` tag, e.g. `"invite"`.
    pub fn type_name(&self) -> &'static str {
        match self {
            ServerMessage::Challenge { .. } => "challenge",
            ServerMessage::Welcome { .. } => "welcome",
            ServerMessage::IceServers { .. } => "ice_servers",
            ServerMessage::Presence { .. } => "presence",
            ServerMessage::Invite { .. } => "invite",
            ServerMessage::Ringing { .. } => "ringing",
            ServerMessage::Accept { .. } => "accept",
            ServerMessage::Decline { .. } => "decline",
            ServerMessage::Cancel { .. } => "cancel",
            ServerMessage::Busy { .. } => "busy",
            ServerMessage::Hangup { .. } => "hangup",
            ServerMessage::Offer { .. } => "offer",
            ServerMessage::Answer { .. } => "answer",
            ServerMessage::Candidate { .. } => "candidate",
            ServerMessage::Joined { .. } => "joined",
            ServerMessage::Left { .. } => "left",
            ServerMessage::Sfu { .. } => "sfu",
            ServerMessage::SfuFeed { .. } => "sfu_feed",
            ServerMessage::Pong => "pong",
            ServerMessage::Error { .. } => "error",
        }
    }

    /// The call the message is about, if any.
    pub fn call_id(&self) -> Option<&str> {
        match self {
            ServerMessage::Invite { call_id, .. }
            | ServerMessage::Ringing { call_id, .. }
            | ServerMessage::Accept { call_id, .. }
            | ServerMessage::Decline { call_id, .. }
            | ServerMessage::Cancel { call_id, .. }
            | ServerMessage::Busy { call_id, .. }
            | ServerMessage::Hangup { call_id, .. }
            | ServerMessage::Offer { call_id, .. }
            | ServerMessage::Answer { call_id, .. }
            | ServerMessage::Candidate { call_id, .. }
            | ServerMessage::Joined { call_id, .. }
            | ServerMessage::Left { call_id, .. }
            | ServerMessage::Sfu { call_id, .. }
            | ServerMessage::SfuFeed { call_id, .. } => Some(call_id),
            ServerMessage::Error { call_id, .. } => call_id.as_deref(),
            ServerMessage::Challenge { .. }
            | ServerMessage::Welcome { .. }
            | ServerMessage::IceServers { .. }
            | ServerMessage::Presence { .. }
            | ServerMessage::Pong => None,
        }
    }

    /// The member a call message comes from or is about (`from`; `member` of
    /// `joined` and `left`), if it is one.
    pub fn from(&self) -> Option<&PeerId> {
        match self {
            ServerMessage::Invite { from, .. }
            | ServerMessage::Ringing { from, .. }
            | ServerMessage::Accept { from, .. }
            | ServerMessage::Decline { from, .. }
            | ServerMessage::Cancel { from, .. }
            | ServerMessage::Busy { from, .. }
            | ServerMessage::Hangup { from, .. }
            | ServerMessage::Offer { from, .. }
            | ServerMessage::Answer { from, .. }
            | ServerMessage::Candidate { from, .. } => Some(from),
            ServerMessage::Joined { member, .. } | ServerMessage::Left { member, .. } => {
                Some(member)
            }
            ServerMessage::Challenge { .. }
            | ServerMessage::Welcome { .. }
            | ServerMessage::IceServers { .. }
            | ServerMessage::Presence { .. }
            | ServerMessage::Sfu { .. }
            | ServerMessage::SfuFeed { .. }
            | ServerMessage::Pong
            | ServerMessage::Error { .. } => None,
        }
    }

    /// The frame as compact JSON text.
    pub fn to_json(&self) -> String {
        to_json(self)
    }
}

/// Machine-readable reason of a server `error` frame (snake_case string on the
/// wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The frame is not JSON, not UTF-8 text, or misses required fields.
    Malformed,
    /// The frame is a JSON object with an unknown `type`.
    UnknownType,
    /// The frame exceeds the server's size limit; the connection is closed.
    TooLarge,
    /// The client sends too fast; the frame was dropped.
    RateLimited,
    /// `hello.protocol` is not supported; the connection is closed.
    UnsupportedVersion,
    /// The `auth` signature did not verify (or the key was invalid); the connection
    /// is closed.
    AuthFailed,
    /// A message other than `hello`/`auth` arrived before `welcome`.
    NotAuthenticated,
    /// `hello` or `auth` arrived on an authenticated connection.
    AlreadyAuthenticated,
    /// The invitee is not connected.
    Offline,
    /// The call id names no live call.
    NoSuchCall,
    /// The sender is not an allowed party of that call for that message (for
    /// offer/answer/candidate: not a party of an accepted call).
    NotInCall,
    /// A rule was broken: bad call id, reused call id, bad peer id, inviting
    /// oneself, too many watched ids.
    Invalid,
    /// The server failed; try again.
    Internal,
    /// The call needs an SFU and none could open a room for it (protocol 4,
    /// §6.5): the call goes on without one.
    SfuUnavailable,
    /// A code this version does not know (sent by a newer server).
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The snake_case wire string, e.g. `"not_in_call"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Malformed => "malformed",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::AuthFailed => "auth_failed",
            ErrorCode::NotAuthenticated => "not_authenticated",
            ErrorCode::AlreadyAuthenticated => "already_authenticated",
            ErrorCode::Offline => "offline",
            ErrorCode::NoSuchCall => "no_such_call",
            ErrorCode::NotInCall => "not_in_call",
            ErrorCode::Invalid => "invalid",
            ErrorCode::Internal => "internal",
            ErrorCode::SfuUnavailable => "sfu_unavailable",
            ErrorCode::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

mod sfu;
pub use sfu::{SfuAccess, SfuFeed};

#[cfg(test)]
mod tests;
