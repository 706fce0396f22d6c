//! `resume`: after every `welcome` a client lists the accepted calls it still
//! holds, so calls outlive a dropped signaling connection and a server restart
//! (docs/protocol.md §6.2).

use std::collections::HashMap;

use parley_proto::{CallKind, ErrorCode, PeerId, ResumedCall};

use super::call::Call;
use super::{error, Hub, Out, MAX_DATA_SESSIONS};

/// One side's word that a call this hub does not know is up.
#[derive(Debug, Clone)]
pub(super) struct Claim {
    /// Who listed it.
    pub(super) claimer: PeerId,
    /// The other party it named.
    pub(super) peer: PeerId,
    /// Call or data session.
    pub(super) kind: CallKind,
}

impl Hub {
    /// `from` holds exactly `calls`:
    /// - it leaves the accepted calls it joined that are not listed (the others
    ///   get `hangup`, or `left` in a group call that goes on): a client that
    ///   restarted lists none and so frees itself. Its ringing calls stay: a
    ///   client lists only accepted calls, and the ringing calls of an earlier
    ///   connection ended when it closed or was replaced, so these were invited
    ///   on this connection, perhaps between `welcome` and this `resume`;
    /// - listed calls this hub knows with `from` a member stay as they are (the
    ///   peer named may have left a group call meanwhile);
    /// - a listed call this hub does not know becomes a claim, and once the other
    ///   party lists the same call id naming `from`, the call is re-created as
    ///   accepted. A call id listed by another pair, or naming a different party
    ///   than the hub knows, gets `invalid`.
    pub(super) fn resume(&mut self, from: &PeerId, calls: Vec<ResumedCall>, out: &mut Out) {
        let listed: HashMap<&str, &ResumedCall> =
            calls.iter().map(|c| (c.call_id.as_str(), c)).collect();
        for call_id in self.calls_of(from) {
            let joined = self
                .calls
                .get(&call_id)
                .is_some_and(|c| c.is_accepted() && c.is_joined(from));
            if joined && !listed.contains_key(call_id.as_str()) {
                self.leave(&call_id, from, None, out);
            }
        }
        self.claims.retain(|_, claim| claim.claimer != *from);
        for c in &calls {
            if let Some(call) = self.calls.get(&c.call_id) {
                // The named peer may have left a group call meanwhile.
                if !call.has(from) || call.kind != c.kind {
                    let message = "that call has other parties";
                    error(out, from, ErrorCode::Invalid, message, &c.call_id);
                }
                continue;
            }
            match self.claims.get(&c.call_id) {
                None => {
                    self.claims.insert(
                        c.call_id.clone(),
                        Claim {
                            claimer: from.clone(),
                            peer: c.peer.clone(),
                            kind: c.kind,
                        },
                    );
                }
                Some(claim)
                    if claim.claimer == c.peer && claim.peer == *from && claim.kind == c.kind =>
                {
                    let claim = claim.clone();
                    self.claims.remove(&c.call_id);
                    if let Err(message) = self.recreate(&c.call_id, claim, from) {
                        error(out, from, ErrorCode::Invalid, message, &c.call_id);
                    }
                }
                Some(_) => {
                    let message = "call id claimed by another pair";
                    error(out, from, ErrorCode::Invalid, message, &c.call_id);
                }
            }
        }
    }

    /// Re-creates a call both parties listed, as accepted, if the one-call rule
    /// and the session bound allow it.
    fn recreate(&mut self, call_id: &str, claim: Claim, from: &PeerId) -> Result<(), &'static str> {
        let parties = [&claim.claimer, from];
        match claim.kind {
            CallKind::Media => {
                if parties.iter().any(|p| self.in_call.contains_key(*p)) {
                    return Err("a party is already in another call");
                }
                for p in parties {
                    self.in_call.insert(p.clone(), call_id.to_owned());
                }
            }
            CallKind::Data => {
                if parties
                    .iter()
                    .any(|p| self.session_count(p) >= MAX_DATA_SESSIONS)
                {
                    return Err("a party has too many data sessions");
                }
                for p in parties {
                    self.sessions
                        .entry(p.clone())
                        .or_default()
                        .insert(call_id.to_owned());
                }
            }
        }
        tracing::info!(%call_id, "call resumed by both parties");
        let protocol = |id: &PeerId| self.online.get(id).copied().unwrap_or_default();
        let call = Call::resumed(
            claim.kind,
            (&claim.claimer, protocol(&claim.claimer)),
            (from, protocol(from)),
        );
        self.calls.insert(call_id.to_owned(), call);
        Ok(())
    }
}
