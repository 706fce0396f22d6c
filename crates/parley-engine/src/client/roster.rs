//! Keeping [`CallInfo`] in step with the call's events: the member list, and the
//! one-to-one fields (`peer`, `remote_*`, `reconnecting`), which follow the
//! first member.

use parley_proto::PeerId;

use super::members::{MemberInfo, MemberState};
use super::{CallInfo, CallPhase};
use crate::call::CallEvent;

/// What [`apply`] changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Change {
    /// `info` changed: the app should be told.
    pub changed: bool,
    /// This member left the call (its video slots and level can go).
    pub left: Option<PeerId>,
}

fn member<'a>(info: &'a mut CallInfo, peer: &PeerId, state: MemberState) -> &'a mut MemberInfo {
    match info.members.iter().position(|m| m.id == *peer) {
        Some(i) => &mut info.members[i],
        None => {
            info.members.push(MemberInfo::new(peer.clone(), state));
            info.members.last_mut().expect("just pushed")
        }
    }
}

/// Sets `peer`'s state (adding it when new); true when something changed.
fn set_state(info: &mut CallInfo, peer: &PeerId, state: MemberState) -> bool {
    let before = info.members.len();
    let m = member(info, peer, state);
    let changed = m.state != state;
    m.state = state;
    changed || info.members.len() != before
}

/// Copies the first member's state into the one-to-one fields; `remote_sharing`
/// is any member's screen (the shared-screen view shows whoever shares).
fn follow_first(info: &mut CallInfo) {
    info.remote_sharing = info.members.iter().any(|m| m.sharing);
    if let Some(first) = info.members.first() {
        info.peer = first.id.clone();
        info.remote_muted_audio = first.muted_audio;
        info.remote_muted_video = first.muted_video;
        info.reconnecting = first.state == MemberState::Reconnecting;
    }
}

/// Applies `ev` to `info`. `now_ms` (unix ms) marks when media first flowed.
pub(crate) fn apply(info: &mut CallInfo, ev: &CallEvent, now_ms: u64) -> Change {
    let before = info.clone();
    let mut left = None;
    match ev {
        CallEvent::Ringing { peer } => {
            set_state(info, peer, MemberState::Ringing);
        }
        CallEvent::Accepted { peer } | CallEvent::PeerJoined { peer } => {
            set_state(info, peer, MemberState::Connecting);
            if info.state == CallPhase::RingingOut {
                info.state = CallPhase::Connecting;
            }
        }
        CallEvent::Connected { peer } | CallEvent::Reconnected { peer } => {
            set_state(info, peer, MemberState::Connected);
            if info.state != CallPhase::Connected {
                info.state = CallPhase::Connected;
                info.started_at_ms = Some(now_ms);
            }
        }
        CallEvent::Reconnecting { peer } => {
            set_state(info, peer, MemberState::Reconnecting);
        }
        CallEvent::RemoteMuted { peer, audio, video } => {
            let m = member(info, peer, MemberState::Connected);
            m.muted_audio = *audio;
            m.muted_video = *video;
        }
        CallEvent::RemoteScreenShare { peer, sharing } => {
            member(info, peer, MemberState::Connected).sharing = *sharing;
        }
        CallEvent::MediaPath { via_sfu } => info.via_sfu = *via_sfu,
        CallEvent::ScreenShare { sharing } => {
            info.sharing_screen = *sharing;
            if !sharing {
                info.sharing_name = None;
            }
        }
        // An invitation that ended without the contact joining.
        CallEvent::InviteFailed {
            peer: Some(peer), ..
        } => {
            info.members
                .retain(|m| m.id != *peer || m.state != MemberState::Ringing);
        }
        CallEvent::PeerLeft { peer, .. } => {
            info.members.retain(|m| m.id != *peer);
            if info.active_speaker.as_ref() == Some(peer) {
                info.active_speaker = None;
            }
            left = Some(peer.clone());
        }
        _ => {}
    }
    follow_first(info);
    Change {
        changed: *info != before,
        left,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::CallDirection;

    fn peer(n: u8) -> PeerId {
        let key = ed25519_dalek::SigningKey::from_bytes(&[n; 32]);
        PeerId::from_public_key(&key.verifying_key())
    }

    fn outgoing(to: &PeerId) -> CallInfo {
        super::super::task::new_info(
            "c1".into(),
            to.clone(),
            CallDirection::Out,
            CallPhase::RingingOut,
        )
    }

    #[test]
    fn the_media_path_follows_the_sfu() {
        let a = peer(1);
        let mut info = outgoing(&a);
        assert!(!info.via_sfu);
        let to_sfu = CallEvent::MediaPath { via_sfu: true };
        assert!(apply(&mut info, &to_sfu, 5).changed);
        assert!(info.via_sfu);
        assert!(!apply(&mut info, &to_sfu, 6).changed);
        apply(&mut info, &CallEvent::MediaPath { via_sfu: false }, 7);
        assert!(!info.via_sfu);
    }

    #[test]
    fn a_one_to_one_call_keeps_its_fields() {
        let a = peer(1);
        let mut info = outgoing(&a);
        assert_eq!(
            info.members,
            vec![MemberInfo::new(a.clone(), MemberState::Ringing)]
        );
        assert!(apply(&mut info, &CallEvent::Accepted { peer: a.clone() }, 5).changed);
        assert_eq!(info.state, CallPhase::Connecting);
        apply(&mut info, &CallEvent::Connected { peer: a.clone() }, 7);
        assert_eq!(
            (info.state, info.started_at_ms),
            (CallPhase::Connected, Some(7))
        );
        let muted = CallEvent::RemoteMuted {
            peer: a.clone(),
            audio: true,
            video: false,
        };
        assert!(apply(&mut info, &muted, 8).changed);
        assert!(info.remote_muted_audio && info.members[0].muted_audio);
        apply(&mut info, &CallEvent::Reconnecting { peer: a.clone() }, 9);
        assert!(info.reconnecting);
        apply(&mut info, &CallEvent::Reconnected { peer: a.clone() }, 10);
        assert!(!info.reconnecting);
        assert_eq!(info.started_at_ms, Some(7), "the call's start stays");
        assert!(!apply(&mut info, &CallEvent::SendsDone, 11).changed);
    }

    #[test]
    fn members_come_and_go_and_the_first_leads_the_one_to_one_fields() {
        let (a, b, c) = (peer(1), peer(2), peer(3));
        let mut info = outgoing(&a);
        apply(&mut info, &CallEvent::Connected { peer: a.clone() }, 1);
        apply(&mut info, &CallEvent::Ringing { peer: b.clone() }, 2);
        apply(&mut info, &CallEvent::Ringing { peer: c.clone() }, 2);
        apply(&mut info, &CallEvent::PeerJoined { peer: b.clone() }, 3);
        let failed = CallEvent::InviteFailed {
            peer: Some(c.clone()),
            reason: "declined".into(),
        };
        apply(&mut info, &failed, 4);
        let ids: Vec<_> = info.members.iter().map(|m| m.id.clone()).collect();
        assert_eq!(ids, vec![a.clone(), b.clone()]);
        let shares = CallEvent::RemoteScreenShare {
            peer: b.clone(),
            sharing: true,
        };
        apply(&mut info, &shares, 5);
        assert!(info.remote_sharing, "any member's screen is shown");
        assert!(info.members[1].sharing && !info.members[0].sharing);
        info.active_speaker = Some(a.clone());
        let left = CallEvent::PeerLeft {
            peer: a.clone(),
            reason: "hung up".into(),
        };
        let change = apply(&mut info, &left, 6);
        assert_eq!(change.left, Some(a));
        assert_eq!(info.peer, b, "the next member leads");
        assert!(info.remote_sharing);
        assert_eq!(info.active_speaker, None);
        assert_eq!(info.state, CallPhase::Connected);
    }
}
