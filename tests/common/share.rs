//! The screen-share call both screen tests make: Bob answers and records the
//! screen and camera tracks apart; Alice calls with a test-pattern camera and shares
//! `target` from 1 s to 4 s of a 7 s call. Plus the check that the card arrived
//! sharp.
#![allow(dead_code)]

use std::time::Duration;

use parley_engine::media::{read_y4m_all, I420Frame};

use super::card::{luma, region_psnr, H, TEXT_TOP, W};
use super::common::{let_answerer_log_in, stats, success, wait, Peer};

/// Runs the call; `env` goes to Alice's process (the display to capture). If
/// Alice fails, `on_failure` runs (stop the desktop) before the panic that shows
/// her log.
///
/// Asserts the call survived sharing start and stop (the callee heard both, the
/// camera kept arriving, the caller sent 10–100 screen frames in 3 s, both exit 0),
/// and returns the received screen frames.
pub fn share_and_record(
    alice: &Peer,
    bob: &Peer,
    target: &str,
    env: &[(&str, &str)],
    on_failure: impl FnOnce(),
) -> Vec<I420Frame> {
    let rec_screen = bob.path("screen.y4m");
    let rec_camera = bob.path("camera.y4m");
    let answer = bob.spawn(&[
        "answer",
        "--stats",
        "--no-audio",
        "--test-pattern",
        "320x180@15",
        "--record-screen",
        rec_screen.to_str().unwrap(),
        "--record-video",
        rec_camera.to_str().unwrap(),
    ]);
    let_answerer_log_in();
    let mut args = vec![
        "call",
        &bob.id,
        "--stats",
        "--duration",
        "7",
        "--no-audio",
        "--test-pattern",
        "320x180@15",
        "--share-screen",
    ];
    if !target.is_empty() {
        args.push(target);
    }
    args.extend(["--share-at", "1", "--share-for", "3"]);
    let call = alice.spawn_with_env(&args, env);
    let (call_out, _) = wait(call, Duration::from_secs(60), "caller");
    let mut answer = answer;
    if !call_out.status.success() {
        // The callee would wait for a call that never comes: stop it and show why.
        let _ = answer.kill();
        let _ = answer.wait();
        on_failure();
        success(&call_out, "caller");
        unreachable!();
    }
    let (answer_out, _) = wait(answer, Duration::from_secs(10), "callee");
    let caller = stats(&success(&call_out, "caller"));
    let callee = stats(&success(&answer_out, "callee"));
    let callee_log = String::from_utf8_lossy(&answer_out.stderr);

    // Start and stop mid-call without dropping it.
    assert!(
        callee_log.contains("the peer started sharing its screen")
            && callee_log.contains("the peer stopped sharing its screen"),
        "the callee did not hear the share start and stop:\n{callee_log}"
    );
    assert_eq!(callee["end_reason"], "the other side hung up");
    let camera = callee["frames_received"].as_u64().unwrap();
    assert!(
        camera >= 60,
        "only {camera} camera frames in a 7 s call at 15 frames/s: the call faltered"
    );
    let screen_sent = caller["screen_frames_sent"].as_u64().unwrap();
    assert!(
        (10..=100).contains(&screen_sent),
        "{screen_sent} screen frames sent in 3 s of sharing (5–30 frames/s expected)"
    );
    // The camera track was recorded apart from the screen.
    let cam = read_y4m_all(&rec_camera).unwrap();
    assert!(cam.len() >= 60 && cam.iter().all(|f| (f.width, f.height) == (320, 180)));

    let frames = read_y4m_all(&rec_screen).unwrap();
    assert!(
        frames.len() as u64 * 10 >= screen_sent * 8,
        "{} of {screen_sent} screen frames recorded",
        frames.len()
    );
    frames
}

/// Finds the card in the frames near `around` (the window's inside may sit a border
/// away) and asserts it arrived sharp.
pub fn assert_card_is_sharp(frames: &[I420Frame], around: (usize, usize)) {
    let card = luma();
    let w = frames[0].width as usize;
    let last = frames.last().unwrap();
    let (x0, y0) = (0..=4)
        .flat_map(|dy| (0..=4).map(move |dx| (around.0 + dx, around.1 + dy)))
        .filter(|&(x, y)| x + W <= w && y + H <= last.height as usize)
        .max_by(|a, b| {
            let pa = region_psnr(&card, last.y(), w, a.0, a.1, 0..H);
            let pb = region_psnr(&card, last.y(), w, b.0, b.1, 0..H);
            pa.total_cmp(&pb)
        })
        .expect("the card fits in the frame");
    let mut whole: Vec<f64> = frames
        .iter()
        .map(|f| region_psnr(&card, f.y(), w, x0, y0, 0..H))
        .collect();
    whole.sort_by(f64::total_cmp);
    let median = whole[whole.len() / 2];
    let text = frames
        .iter()
        .map(|f| region_psnr(&card, f.y(), w, x0, y0, TEXT_TOP..H))
        .fold(0.0, f64::max);
    eprintln!(
        "screen: {} frames of {}x{}, card at ({x0},{y0}), PSNR median {median:.1} dB (min {:.1}), text band best {text:.1} dB",
        frames.len(),
        frames[0].width,
        frames[0].height,
        whole[0]
    );
    assert!(median >= 30.0, "card PSNR median {median:.1} dB < 30");
    assert!(text >= 30.0, "text band PSNR {text:.1} dB < 30");
}
