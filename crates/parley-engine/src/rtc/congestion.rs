//! Send-side congestion control: Google Congestion Control (draft-ietf-rmcat-gcc-02,
//! delay and loss based) over transport-wide feedback (TWCC,
//! draft-holmer-rmcat-transport-wide-cc-extensions-01), as webrtc-rs 0.21.1 ships it
//! in `rtc-interceptor` but leaves off by default.
//!
//! The estimator lives inside the interceptor chain, out of reach once the chain is
//! built, so it is wrapped: [`Reporting`] delegates every call and publishes the
//! estimate after each update into a [`SendEstimate`] the encoders read.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use rtc::interceptor::{
    BandwidthEstimator, CongestionControlBuilder, EstimatorStats, Gcc, NackGeneratorBuilder,
    NackResponderBuilder, PacketReport, Registry, Slot,
};
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_rtcp_reports, configure_simulcast_extension_headers, configure_twcc,
    configure_twcc_receiver_only,
};
use rtc::rtp_transceiver::rtp_sender::{RTCPFeedback, RtpCodecKind};
use webrtc::peer_connection::MediaEngine;

use super::congestion_guard::Guard;
use super::feedback_coverage::{CoverageRecorder, FeedbackCoverage, FEEDBACK_COVERAGE_SLOT};
use super::keyframe::{KeyframeRequestForwarder, KEYFRAME_FORWARDER_SLOT};
use super::read_tap::ReadTap;
use crate::Result;

/// How the sender's estimate starts and where it is held (bits/s, all RTP
/// together: video, audio, retransmissions and headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CongestionConfig {
    /// Where the estimate starts, bits/s. GCC climbs slowly from a low start
    /// (DESIGN.md), so near 1 Mbit/s rather than at the floor.
    pub initial_bps: u32,
    /// The floor, bits/s: below it a video call is not worth having.
    pub min_bps: u32,
    /// The ceiling, bits/s.
    pub max_bps: u32,
}

impl Default for CongestionConfig {
    fn default() -> Self {
        Self {
            initial_bps: 1_000_000,
            min_bps: 100_000,
            max_bps: 10_000_000,
        }
    }
}

/// The sender's current bandwidth estimate for one peer connection.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BandwidthEstimate {
    /// What the sender may send now, bits/s (the lower of the two halves; the
    /// pacer releases RTP at this rate).
    pub target_bps: f64,
    /// The delay-based half's rate, bits/s (GCC §5).
    pub delay_based_bps: Option<f64>,
    /// The loss-based half's rate, bits/s (GCC §6).
    pub loss_based_bps: Option<f64>,
    /// Fraction of packets reported lost, 0–1.
    pub loss_fraction: Option<f64>,
    /// Round-trip time seen in the feedback, ms.
    pub rtt_ms: Option<f64>,
}

/// Where a connection's estimator publishes, shared by its sending tracks. Holds
/// `None` while congestion control is off.
#[derive(Clone, Default)]
pub struct SendEstimate(Arc<Mutex<Option<BandwidthEstimate>>>);

impl SendEstimate {
    /// The latest estimate, or `None` when congestion control is off.
    pub fn get(&self) -> Option<BandwidthEstimate> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, estimate: BandwidthEstimate) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(estimate);
    }
}

/// An estimator that publishes what `inner` concludes after every update (the
/// two points where the interceptor contract says the estimate can change).
struct Reporting<E> {
    inner: E,
    out: SendEstimate,
}

impl<E: BandwidthEstimator> Reporting<E> {
    fn new(inner: E, out: SendEstimate) -> Self {
        let me = Self { inner, out };
        me.publish();
        me
    }

    fn publish(&self) {
        let stats = self.inner.stats();
        self.out.set(BandwidthEstimate {
            target_bps: self.inner.target_bitrate(),
            delay_based_bps: stats.delay_based_bitrate,
            loss_based_bps: stats.loss_based_bitrate,
            loss_fraction: stats.packet_loss,
            rtt_ms: stats.round_trip_time.map(|d| d.as_secs_f64() * 1000.0),
        });
    }
}

impl<E: BandwidthEstimator> BandwidthEstimator for Reporting<E> {
    fn on_reports(&mut self, now: Instant, reports: &[PacketReport]) {
        self.inner.on_reports(now, reports);
        self.publish();
    }

    fn target_bitrate(&self) -> f64 {
        self.inner.target_bitrate()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.inner.handle_timeout(now);
        self.publish();
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.inner.poll_timeout()
    }

    fn stats(&self) -> EstimatorStats {
        self.inner.stats()
    }
}

/// How often the receiver asks again for one lost packet (RFC 4585 generic
/// NACK). webrtc-rs asks every 100 ms without limit; on a path whose queue
/// holds more than that, every packet was asked for and resent several times
/// over, and the resends took the link (9 Mbit/s of them on a 1 Mbit/s link).
pub const MAX_NACKS_PER_PACKET: u16 = 2;

/// NACK both ways (RFC 4585 §6.2.1; `nack` and `nack pli` feedback on video),
/// each lost packet asked for at most [`MAX_NACKS_PER_PACKET`] times.
fn nack(media: &mut MediaEngine) -> Registry {
    for parameter in ["", "pli"] {
        media.register_feedback(
            RTCPFeedback {
                typ: "nack".to_owned(),
                parameter: parameter.to_owned(),
            },
            RtpCodecKind::Video,
        );
    }
    let generator = NackGeneratorBuilder::new().with_max_nacks_per_packet(MAX_NACKS_PER_PACKET);
    Registry::new()
        .with(Slot::NackResponder, NackResponderBuilder::new().build())
        .with(Slot::NackGenerator, generator.build())
}

/// The interceptor chain: NACK (RFC 4585; unless `with_nack` is false), RTCP reports (RFC 3550 §6.4), the
/// keyframe-request forwarder, and either congestion control (`congestion`: GCC
/// and TWCC both ways; published into `estimate`) or, without it, only the
/// TWCC receiver, so the remote's estimator still gets feedback.
///
/// No pacer: the encoders are what keeps to the estimate (webrtc-rs's pacer
/// releases at exactly the target, so every keyframe waits behind it).
///
/// Errors: [`crate::Error::Rtc`] if a header extension cannot be registered.
pub(super) fn registry(
    media: &mut MediaEngine,
    congestion: Option<CongestionConfig>,
    with_nack: bool,
    estimate: &SendEstimate,
) -> Result<Registry> {
    let registry = if with_nack {
        nack(media)
    } else {
        Registry::new()
    };
    configure_simulcast_extension_headers(media)?;
    let mut registry = configure_rtcp_reports(registry);
    let registry = match congestion {
        Some(c) => {
            let gcc = Gcc::new(
                f64::from(c.initial_bps),
                f64::from(c.min_bps),
                f64::from(c.max_bps),
            );
            let coverage = FeedbackCoverage::default();
            registry = registry.with(
                Slot::from(FEEDBACK_COVERAGE_SLOT),
                ReadTap::new(CoverageRecorder::new(coverage.clone())),
            );
            let guarded = Guard::new(gcc, f64::from(c.min_bps)).with_coverage(coverage);
            let cc =
                CongestionControlBuilder::new(Reporting::new(guarded, estimate.clone())).build();
            configure_twcc(registry, media)?.with(Slot::CongestionControl, cc)
        }
        None => configure_twcc_receiver_only(registry, media)?,
    };
    Ok(registry.with(
        Slot::from(KEYFRAME_FORWARDER_SLOT),
        ReadTap::new(KeyframeRequestForwarder),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_is_published_from_the_start() {
        let out = SendEstimate::default();
        assert_eq!(out.get(), None, "nothing before an estimator exists");
        let _r = Reporting::new(Gcc::new(1e6, 1e5, 1e7), out.clone());
        let e = out.get().expect("published at once");
        assert_eq!(e.target_bps, 1e6);
    }

    #[test]
    fn the_chain_holds_congestion_control_only_when_asked() {
        let names = |cc: Option<CongestionConfig>| {
            let mut media = MediaEngine::default();
            let r = registry(&mut media, cc, true, &SendEstimate::default()).unwrap();
            r.slots()
                .into_iter()
                .map(|(_, n)| n)
                .collect::<Vec<_>>()
                .join(",")
        };
        let on = names(Some(CongestionConfig::default()));
        assert!(on.contains("CongestionControl"), "{on}");
        assert!(on.contains("TwccSender"), "{on}");
        assert!(on.contains("TwccReceiver"), "{on}");
        assert!(on.contains("Nack"), "{on}");
        let off = names(None);
        assert!(
            !off.contains("CongestionControl") && !off.contains("TwccSender"),
            "{off}"
        );
        assert!(off.contains("TwccReceiver"), "{off}");
    }
}
