//! The relay of `offer`, `answer` and `candidate` between two joined members
//! of an accepted call (docs/protocol.md §6 and §6.4).

use parley_proto::{ErrorCode, PeerId};

use super::{error, Hub, Out};

impl Hub {
    /// The member `from` sends to in `call_id`: `to`, or without it the other
    /// member of a two-member call. Both must have joined an accepted call;
    /// otherwise queues the error and returns `None`.
    pub(super) fn relay_target(
        &self,
        from: &PeerId,
        call_id: &str,
        to: Option<PeerId>,
        out: &mut Out,
    ) -> Option<PeerId> {
        let call = self
            .calls
            .get(call_id)
            .filter(|c| c.is_accepted() && c.is_joined(from));
        let Some(call) = call else {
            let message = "not a party of an accepted call with that id";
            error(out, from, ErrorCode::NotInCall, message, call_id);
            return None;
        };
        let target = match to {
            Some(to) => Some(to).filter(|to| to != from && call.is_joined(to)),
            None => {
                let mut others = call.joined().filter(|m| *m != from);
                match (others.next(), others.next()) {
                    (Some(only), None) => Some(only.clone()),
                    _ => {
                        let message = "name the member the message is for (`to`)";
                        error(out, from, ErrorCode::Invalid, message, call_id);
                        return None;
                    }
                }
            }
        };
        if target.is_none() {
            let message = "`to` is not a joined member of that call";
            error(out, from, ErrorCode::NotInCall, message, call_id);
        }
        target
    }
}
