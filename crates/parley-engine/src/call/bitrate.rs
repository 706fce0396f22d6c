//! How the congestion controller's estimate becomes the encoders' targets: audio
//! keeps its share, the rest goes to video (most of it to the screen while one
//! is shared), and below some bitrate a camera sends fewer frames, then
//! smaller ones, rather than smear every one of them.
//!
//! Pure functions of the estimate; the sender threads apply them per frame.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use super::media::VideoRole;
use super::{
    DEFAULT_AUDIO_BITRATE_BPS, DEFAULT_VIDEO_BITRATE_BPS, DEFAULT_VIDEO_BITS_PER_PIXEL,
    MAX_DEFAULT_VIDEO_BITRATE_BPS,
};

/// What audio keeps of a connection's estimate, bits/s: Opus at
/// [`DEFAULT_AUDIO_BITRATE_BPS`] plus 50 packets a second of IP, UDP, RTP and
/// SRTP headers (about 50 bytes each).
pub(super) const AUDIO_RESERVE_BPS: u32 = DEFAULT_AUDIO_BITRATE_BPS + 50 * 50 * 8;

/// The part of what is left after audio that the video encoders are asked for:
/// the rest covers RTP headers, retransmissions (NACK, RFC 4585) and the
/// encoder's overshoot on keyframes, since the pacer sends no faster than the
/// estimate.
pub(super) const VIDEO_SHARE: f64 = 0.85;

/// The screen's part of the video bitrate while a screen and a camera are both
/// sent (the shared screen is what the others read).
pub(super) const SCREEN_SHARE: f64 = 0.75;

/// The lowest target given to a video encoder, bits/s.
pub(super) const MIN_VIDEO_BPS: u32 = 50_000;

/// Below this camera target (bits/s) a camera faster than
/// [`REDUCED_FPS`] sends only every other frame; above
/// [`FULL_FPS_ABOVE_BPS`] it goes back to all of them.
pub(super) const HALF_FPS_BELOW_BPS: u32 = 250_000;
/// See [`HALF_FPS_BELOW_BPS`], bits/s.
pub(super) const FULL_FPS_ABOVE_BPS: u32 = 350_000;
/// Frame rate a camera is halved towards, frames/s: a slower camera keeps all
/// its frames.
pub(super) const REDUCED_FPS: f64 = 15.0;

/// Below this many bits per pixel of the camera's full picture (at
/// [`REDUCED_FPS`], or the camera's rate if slower) the camera is sent at
/// half width and height; above [`FULL_SIZE_ABOVE_BPP`] at full size again.
/// A 640×360 camera halves below 207 kbit/s (after its frame rate halved at
/// [`HALF_FPS_BELOW_BPS`]) and is whole again above 350 kbit/s (its frame
/// rate back; 415 kbit/s for a camera that never had more than 15 frames/s).
pub(super) const HALF_SIZE_BELOW_BPP: f64 = 0.06;
/// See [`HALF_SIZE_BELOW_BPP`].
pub(super) const FULL_SIZE_ABOVE_BPP: f64 = 0.12;
/// A camera no wider than this (pixels) is never halved.
pub(super) const MIN_HALVED_WIDTH: u32 = 320;

/// Whether a `width × height` camera of `source_fps` is sent at half size,
/// given its target, its ceiling (the configured bitrate), whether its frame
/// rate is halved now, and whether its size was halved for the previous
/// frame. Fewer frames come before smaller ones: a camera fast enough to
/// have its frame rate halved is made smaller only while it is. A target at
/// the ceiling is never the link's doing, so it never halves (a 1280×720
/// camera given 800 kbit/s stays whole); the thresholds differ so it does
/// not flap.
pub(super) fn halve_size(
    target_bps: u32,
    ceiling_bps: u32,
    (width, height): (u32, u32),
    (source_fps, fps_halved): (f64, bool),
    halved_now: bool,
) -> bool {
    let fast = source_fps >= REDUCED_FPS * 1.5;
    if width <= MIN_HALVED_WIDTH || (fast && !fps_halved) || target_bps >= ceiling_bps {
        return false;
    }
    let fps = source_fps.clamp(1.0, REDUCED_FPS);
    let bpp = f64::from(target_bps) / (f64::from(width) * f64::from(height) * fps);
    if halved_now {
        bpp < FULL_SIZE_ABOVE_BPP
    } else {
        bpp < HALF_SIZE_BELOW_BPP
    }
}

/// The target for one video encoder, bits/s: its part of `estimate_bps` (the
/// lowest estimate among the connections it is sent on; `None` when congestion
/// control is off) after audio, held within [`MIN_VIDEO_BPS`] and `ceiling_bps`
/// (the configured bitrate, which is also the target without an estimate).
pub(super) fn video_target(
    estimate_bps: Option<f64>,
    role: VideoRole,
    screen_active: bool,
    ceiling_bps: u32,
) -> u32 {
    let Some(estimate) = estimate_bps else {
        return ceiling_bps;
    };
    let video = (estimate - f64::from(AUDIO_RESERVE_BPS)).max(0.0) * VIDEO_SHARE;
    let part = match (role, screen_active) {
        (VideoRole::Camera, false) => video,
        (VideoRole::Camera, true) => video * (1.0 - SCREEN_SHARE),
        (VideoRole::Screen, _) => video * SCREEN_SHARE,
    };
    (part as u32).clamp(MIN_VIDEO_BPS, ceiling_bps.max(MIN_VIDEO_BPS))
}

/// Whether a camera at `source_fps` sends every other frame, given its target
/// and whether it did so for the previous frame (the two thresholds keep it from
/// flapping).
pub(super) fn halve_frame_rate(target_bps: u32, source_fps: f64, halved_now: bool) -> bool {
    if source_fps < REDUCED_FPS * 1.5 {
        return false;
    }
    if halved_now {
        target_bps < FULL_FPS_ABOVE_BPS
    } else {
        target_bps < HALF_FPS_BELOW_BPS
    }
}

/// What the sender threads share about the send rate: whether a screen is
/// shared (the camera then takes the smaller part) and the targets they chose,
/// for the stats.
#[derive(Default)]
pub(super) struct SendBudget {
    /// A screen is being sent.
    pub(super) screen_active: AtomicBool,
    /// The camera encoder's target now, bits/s (0: no camera).
    pub(super) camera_bps: AtomicU32,
    /// The screen encoder's target now, bits/s (0: no screen).
    pub(super) screen_bps: AtomicU32,
    /// The lowest target the camera gets while a file we send moves, bits/s
    /// (0: no floor).
    pub(super) camera_floor_bps: AtomicU32,
    /// The same for the screen, bits/s.
    pub(super) screen_floor_bps: AtomicU32,
}

impl SendBudget {
    /// `role`'s floor while a file we send moves, bits/s (0: none).
    pub(super) fn floor(&self, role: VideoRole) -> u32 {
        match role {
            VideoRole::Camera => self.camera_floor_bps.load(Ordering::Relaxed),
            VideoRole::Screen => self.screen_floor_bps.load(Ordering::Relaxed),
        }
    }

    /// Records `role`'s current target, bits/s.
    pub(super) fn record(&self, role: VideoRole, bps: u32) {
        match role {
            VideoRole::Camera => self.camera_bps.store(bps, Ordering::Relaxed),
            VideoRole::Screen => self.screen_bps.store(bps, Ordering::Relaxed),
        }
    }
}

/// The default camera bitrate ceiling for a `width` × `height` camera at `fps`
/// frames/s, bits/s: [`DEFAULT_VIDEO_BITS_PER_PIXEL`] of every pixel it sends,
/// held within [`DEFAULT_VIDEO_BITRATE_BPS`] and
/// [`MAX_DEFAULT_VIDEO_BITRATE_BPS`]. A 640x360 camera at 30 frames/s gets
/// 800 kbit/s, a 1280x720 one 1.94 Mbit/s.
pub fn default_camera_bitrate_bps(width: u32, height: u32, fps: f64) -> u32 {
    let fps = if fps.is_finite() {
        fps.clamp(1.0, 60.0)
    } else {
        30.0
    };
    let bps = f64::from(width) * f64::from(height) * fps * DEFAULT_VIDEO_BITS_PER_PIXEL;
    (bps as u32).clamp(DEFAULT_VIDEO_BITRATE_BPS, MAX_DEFAULT_VIDEO_BITRATE_BPS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_camera_ceiling_follows_the_size() {
        // Small cameras keep the old 800 kbit/s.
        assert_eq!(default_camera_bitrate_bps(320, 180, 15.0), 800_000);
        assert_eq!(default_camera_bitrate_bps(640, 480, 30.0), 800_000);
        // 1280x720 at 30 frames/s: 0.07 bit a pixel.
        assert_eq!(default_camera_bitrate_bps(1280, 720, 30.0), 1_935_360);
        assert_eq!(default_camera_bitrate_bps(1280, 720, 15.0), 967_680);
        // 1080p and faster cameras stop at the maximum; a nonsense rate counts as 30.
        assert_eq!(default_camera_bitrate_bps(1920, 1080, 60.0), 2_500_000);
        assert_eq!(
            default_camera_bitrate_bps(1280, 720, f64::NAN),
            default_camera_bitrate_bps(1280, 720, 30.0)
        );
    }

    #[test]
    fn without_an_estimate_the_configured_bitrate_holds() {
        assert_eq!(
            video_target(None, VideoRole::Camera, false, 800_000),
            800_000
        );
    }

    #[test]
    fn audio_keeps_its_share_and_video_gets_most_of_the_rest() {
        let t = video_target(Some(1_000_000.0), VideoRole::Camera, false, 5_000_000);
        let expected = ((1_000_000 - AUDIO_RESERVE_BPS) as f64 * VIDEO_SHARE) as u32;
        assert_eq!(t, expected);
        assert!(t + AUDIO_RESERVE_BPS < 1_000_000);
    }

    #[test]
    fn a_shared_screen_takes_the_larger_part() {
        let cam = video_target(Some(2e6), VideoRole::Camera, true, 5_000_000);
        let screen = video_target(Some(2e6), VideoRole::Screen, true, 5_000_000);
        assert!(screen > 2 * cam, "{screen} vs {cam}");
        assert!(
            f64::from(cam + screen) <= (2e6 - f64::from(AUDIO_RESERVE_BPS)) * VIDEO_SHARE + 2.0
        );
    }

    #[test]
    fn targets_stay_within_the_floor_and_the_ceiling() {
        assert_eq!(
            video_target(Some(10e6), VideoRole::Camera, false, 800_000),
            800_000
        );
        assert_eq!(
            video_target(Some(20_000.0), VideoRole::Camera, false, 800_000),
            MIN_VIDEO_BPS
        );
    }

    #[test]
    fn the_size_halves_at_lower_bitrates_without_flapping() {
        let (vga, cap) = ((640, 360), 2_500_000);
        assert!(!halve_size(210_000, cap, vga, (30.0, true), false));
        assert!(halve_size(200_000, cap, vga, (30.0, true), false));
        assert!(
            !halve_size(200_000, cap, vga, (30.0, false), false),
            "fps first"
        );
        assert!(
            halve_size(200_000, cap, vga, (15.0, false), false),
            "a slow camera"
        );
        assert!(
            halve_size(410_000, cap, vga, (15.0, false), true),
            "kept until well above"
        );
        assert!(!halve_size(420_000, cap, vga, (15.0, false), true));
        assert!(halve_size(800_000, cap, (1280, 720), (30.0, true), false));
        assert!(
            !halve_size(800_000, 800_000, (1280, 720), (30.0, true), false),
            "at its ceiling, not the link's doing"
        );
        assert!(
            !halve_size(50_000, cap, (320, 180), (15.0, false), false),
            "small stays"
        );
        // Down through both steps and back up: going down the frame rate
        // halves first; each step changes once each way.
        let (mut half_fps, mut half_size) = (false, false);
        let mut changes = (0, 0);
        for kbps in (60..=600).rev().step_by(10).chain((60..=600).step_by(10)) {
            let bps = kbps * 1000;
            let was = (half_fps, half_size);
            half_fps = halve_frame_rate(bps, 30.0, half_fps);
            half_size = halve_size(bps, cap, vga, (30.0, half_fps), half_size);
            assert!(
                !half_size || half_fps,
                "{kbps} kbit/s: smaller but not slower"
            );
            changes.0 += usize::from(was.0 != half_fps);
            changes.1 += usize::from(was.1 != half_size);
        }
        assert_eq!(changes, (2, 2));
        assert!(!half_fps && !half_size);
    }

    #[test]
    fn the_frame_rate_halves_at_low_bitrates_without_flapping() {
        assert!(!halve_frame_rate(300_000, 30.0, false));
        assert!(halve_frame_rate(200_000, 30.0, false));
        assert!(
            halve_frame_rate(300_000, 30.0, true),
            "held until well above"
        );
        assert!(!halve_frame_rate(400_000, 30.0, true));
        assert!(
            !halve_frame_rate(100_000, 15.0, false),
            "a 15 fps camera keeps its frames"
        );
    }
}
