//! A real 1:1 call between two `parley-cli` processes through the real signaling
//! server, with the recorded clip and speech as camera and microphone.
//!
//! Asserts:
//! - the callee's recording of the caller's video matches the source clip: every
//!   received frame is compared with the source frames and the mean PSNR of the best
//!   matches is ≥ 30 dB;
//! - at least 80 % of the frames the caller sent were decoded by the callee;
//! - the callee's recorded audio matches the speech: normalised cross-correlation
//!   with the source ≥ 0.7 after alignment;
//! - after the caller hangs up, both processes exit with status 0 within 2 s.

mod common;

use std::time::Duration;

use common::sources::{read_wav_mono, speech_reference};
use common::*;
use parley_engine::media::normalized_xcorr_best;

#[test]
fn video_and_audio_arrive_intact() {
    let server = Server::start();
    let (alice, bob) = (Peer::new(&server), Peer::new(&server));
    let clip = media("chrome-320x180-15fps.y4m");
    let speech = media("jfk.wav");
    let rec_video = bob.path("received.y4m");
    let rec_audio = bob.path("received.wav");

    let answer = bob.spawn(&[
        "answer",
        "--stats",
        "--no-video",
        "--no-audio",
        "--record-video",
        rec_video.to_str().unwrap(),
        "--record-audio",
        rec_audio.to_str().unwrap(),
    ]);
    let call = alice.spawn(&[
        "call",
        &bob.id,
        "--stats",
        "--duration",
        "11",
        "--video-file",
        clip.to_str().unwrap(),
        "--audio-file",
        speech.to_str().unwrap(),
    ]);
    let (call_out, caller_ended) = wait(call, Duration::from_secs(60), "caller");
    let (answer_out, callee_ended) = wait(answer, Duration::from_secs(10), "callee");
    let caller_stats = stats(&success(&call_out, "caller"));
    let callee_stats = stats(&success(&answer_out, "callee"));
    assert!(
        callee_ended.saturating_duration_since(caller_ended) < Duration::from_secs(2),
        "callee exited {:?} after the caller hung up",
        callee_ended.saturating_duration_since(caller_ended)
    );

    // Video: frames arrived and look like the clip.
    let sent = caller_stats["frames_sent"].as_u64().unwrap();
    let decoded = callee_stats["frames_received"].as_u64().unwrap();
    assert!(
        sent >= 100,
        "caller sent only {sent} frames in 11 s at 15 frames/s"
    );
    checks::assert_video_matches(&clip, &rec_video, sent, decoded, 0.8, 30.0);

    // Audio: the recorded speech correlates with the source.
    let reference = speech_reference(&speech);
    let recorded = read_wav_mono(&rec_audio);
    assert!(
        recorded.len() > 48_000 * 8,
        "only {} samples of audio recorded",
        recorded.len()
    );
    let (ncc, lag) = normalized_xcorr_best(&recorded, &reference, 48_000 * 3);
    println!("audio: correlation {ncc:.3} at lag {lag} samples");
    assert!(
        ncc >= 0.7,
        "audio correlation {ncc:.2} at lag {lag} (< 0.7)"
    );
}
