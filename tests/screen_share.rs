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
#[path = "common/share.rs"]
mod share;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

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

    let display = xvfb.display.clone();
    let frames = share::share_and_record(
        &alice,
        &bob,
        target,
        // X11 even when the developer's own session is Wayland.
        &[
            ("DISPLAY", display.as_str()),
            ("PARLEY_SCREEN_BACKEND", "xcap"),
        ],
        || {
            for mut child in started.drain(..).rev() {
                desktop::terminate(&mut child, Duration::from_secs(2));
            }
        },
    );
    for mut child in started.into_iter().rev() {
        desktop::terminate(&mut child, Duration::from_secs(2));
    }
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
            .env("PARLEY_SCREEN_BACKEND", "xcap")
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

#[test]
fn a_shared_screen_arrives_sharp_and_the_call_survives_start_and_stop() {
    let frames = share_the_card("", false);
    assert!(frames.iter().all(|f| (f.width, f.height) == (1280, 800)));
    share::assert_card_is_sharp(&frames, CARD_AT);
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
    share::assert_card_is_sharp(&frames, (0, 0));
}
