//! An interceptor that lets keyframe requests (PLI, RFC 4585 §6.3.1; FIR, RFC 5104
//! §4.3.1) reach the application.
//!
//! webrtc-rs stops inbound RTCP inside its interceptor chain unless an interceptor marks
//! it `DeliverToApplication`. The video sender needs PLI/FIR to force an IDR frame, so
//! this interceptor marks every compound RTCP packet that carries one. It passes all
//! packets on unchanged.

use rtc::interceptor::{Attribute, Packet, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;

use super::read_tap::ReadObserver;

/// Position in the interceptor chain: after the default interceptors (reports, NACK,
/// TWCC), next to the application.
pub const KEYFRAME_FORWARDER_SLOT: usize = 14_000;

/// Marks inbound RTCP carrying PLI or FIR for delivery to the application (in a
/// [`ReadTap`](super::read_tap::ReadTap)).
#[derive(Default)]
pub struct KeyframeRequestForwarder;

/// Whether an RTCP packet asks for a keyframe.
pub fn is_keyframe_request(packet: &dyn rtc::rtcp::Packet) -> bool {
    let any = packet.as_any();
    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
}

impl ReadObserver for KeyframeRequestForwarder {
    fn observe(&mut self, msg: &mut TaggedPacket) {
        if let Packet::Rtcp(packets) = &msg.message.packet {
            if packets.iter().any(|p| is_keyframe_request(p.as_ref())) {
                msg.message.add(Attribute::DeliverToApplication);
            }
        }
    }
}
