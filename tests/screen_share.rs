//! Screen sharing between two `parley-cli` processes under a private Xvfb.
//!
//! A window (ImageMagick's `display`) shows a known card (colour bars, gradient, fine
//! checkerboard, 1- and 2-pixel text); the caller shares from 1 s to 4 s of a 7 s
//! call (`--share-at 1 --share-for 3`); the callee records the screen track
//! (`--record-screen`) apart from the camera track (`--record-video`). Two cases:
//! the whole X screen (`--share-screen`), and the card's window by its title
//! (`--share-screen window:parley-card`, under the openbox window manager, which
//! keeps the client list window listing needs).
//!
//! Asserts:
//! - the received screen frames have the native size (the 1280x800 screen, or the
//!   640x400 window) and show the card: luma PSNR ≥ 30 dB over the card in the
//!   median frame, and ≥ 30 dB over the text band alone (text legible at 1:1);
//! - sharing started and stopped mid-call without dropping it: the callee heard both,
//!   the camera kept arriving for the whole call, the caller sent screen frames only
//!   while sharing, and both exit 0 when the caller hangs up.

#[path = "common/card.rs"]
mod card;
mod common;
#[path = "common/desktop.rs"]
mod desktop;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use parley_engine::media::read_y4m_all;

/// Where the card's window is placed on the X screen, pixels.
const CARD_AT: (usize, usize) = (200, 150);
/// Calls in this file run one at a time (each encodes a screen; the machine has two
/// cores).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Shares `target` (the `--share-screen` value) on a fresh Xvfb showing the card;
/// checks the call and returns the received screen frames.
fn share_the_card(target: &str, window_manager: bool) -> Vec<parley_engine::media::I420Frame> {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let xvfb = desktop::Xvfb::start(&desktop::require("Xvfb", "xvfb"));
    let mut started = Vec::new();
    if window_manager {
        let wm = Command::new(desktop::require("openbox", "openbox"))
            .env("DISPLAY", &xvfb.display)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start openbox");
        started.push(wm);
        std::thread::sleep(Duration::from_millis(500));
    }
    let server = Server::start();
    let (alice, bob) = (Peer::new(&server), Peer::new(&server));
    let card_path = alice.path("card.ppm");
    std::fs::write(&card_path, card::ppm()).unwrap();
    let shown = Command::new(desktop::require("display", "imagemagick"))
        .args([
            "-geometry",
            &format!("+{}+{}", CARD_AT.0, CARD_AT.1),
            "-title",
            "parley-card",
        ])
        .arg(&card_path)
        .env("DISPLAY", &xvfb.display)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ImageMagick display");
    started.push(shown);
    std::thread::sleep(Duration::from_millis(1500));
    if window_manager {
        // ImageMagick sets only the Latin-1 WM_NAME; window lists read the UTF-8
        // _NET_WM_NAME that toolkits set, so give the window one.
        let ok = Command::new(desktop::require("xprop", "x11-utils"))
            .args(["-name", "parley-card", "-f", "_NET_WM_NAME", "8u"])
            .args(["-set", "_NET_WM_NAME", "parley-card"])
            .env("DISPLAY", &xvfb.display)
            .status()
            .expect("run xprop");
        assert!(ok.success(), "xprop could not name the card window");
        wait_for_window_listed("parley-card", &xvfb.display);
    }

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
    let call = alice.spawn_with_env(&args, &[("DISPLAY", xvfb.display.as_str())]);
    let (call_out, _) = wait(call, Duration::from_secs(60), "caller");
    let mut answer = answer;
    if !call_out.status.success() {
        // The callee would wait for a call that never comes: stop it and show why.
        let _ = answer.kill();
        let _ = answer.wait();
        for mut child in started.into_iter().rev() {
            desktop::terminate(&mut child, Duration::from_secs(2));
        }
        success(&call_out, "caller");
        unreachable!();
    }
    let (answer_out, _) = wait(answer, Duration::from_secs(10), "callee");
    for mut child in started.into_iter().rev() {
        desktop::terminate(&mut child, Duration::from_secs(2));
    }
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

/// Waits (up to 20 s) until `parley-cli devices` lists a window named `title` on
/// `display`: the window manager adopts a new window some time after it is mapped,
/// and later on a loaded machine.
fn wait_for_window_listed(title: &str, display: &str) {
    let start = std::time::Instant::now();
    let mut last = String::new();
    while start.elapsed() < Duration::from_secs(20) {
        let out = Command::new(bin("parley-cli"))
            .arg("devices")
            .env("DISPLAY", display)
            .output()
            .expect("run parley-cli devices");
        last = String::from_utf8_lossy(&out.stdout).into_owned();
        if last
            .lines()
            .any(|l| l.starts_with("screen window:") && l.contains(title))
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("no window {title:?} listed within 20 s; `parley-cli devices` printed:\n{last}");
}

/// Finds the card in the frames near `around` (the window's inside may sit a border
/// away) and asserts it arrived sharp.
fn assert_card_is_sharp(frames: &[parley_engine::media::I420Frame], around: (usize, usize)) {
    let card = card::luma();
    let w = frames[0].width as usize;
    let last = frames.last().unwrap();
    let (x0, y0) = (0..=4)
        .flat_map(|dy| (0..=4).map(move |dx| (around.0 + dx, around.1 + dy)))
        .filter(|&(x, y)| x + card::W <= w && y + card::H <= last.height as usize)
        .max_by(|a, b| {
            let pa = card::region_psnr(&card, last.y(), w, a.0, a.1, 0..card::H);
            let pb = card::region_psnr(&card, last.y(), w, b.0, b.1, 0..card::H);
            pa.total_cmp(&pb)
        })
        .expect("the card fits in the frame");
    let mut whole: Vec<f64> = frames
        .iter()
        .map(|f| card::region_psnr(&card, f.y(), w, x0, y0, 0..card::H))
        .collect();
    whole.sort_by(f64::total_cmp);
    let median = whole[whole.len() / 2];
    let text = frames
        .iter()
        .map(|f| card::region_psnr(&card, f.y(), w, x0, y0, card::TEXT_TOP..card::H))
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

#[test]
fn a_shared_screen_arrives_sharp_and_the_call_survives_start_and_stop() {
    let frames = share_the_card("", false);
    assert!(frames.iter().all(|f| (f.width, f.height) == (1280, 800)));
    assert_card_is_sharp(&frames, CARD_AT);
}

#[test]
fn a_window_shared_by_title_arrives_sharp() {
    let frames = share_the_card("window:parley-card", true);
    assert!(
        frames
            .iter()
            .all(|f| (f.width as usize, f.height as usize) == (card::W, card::H)),
        "the window's frames are {}x{}, the card is {}x{}",
        frames[0].width,
        frames[0].height,
        card::W,
        card::H
    );
    assert_card_is_sharp(&frames, (0, 0));
}
