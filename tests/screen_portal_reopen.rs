//! Sharing through the Wayland ScreenCast portal twice in one process, as the app
//! does call after call: the second share must start (restored from the token,
//! without asking) and show the screen, not hang on a portal connection left over
//! from the first.
//!
//! In-process (the engine's `ScreenSource`), so this test binary holds this one
//! test: it points its own environment at the private portal session.

#[path = "common/card.rs"]
mod card;
#[path = "common/desktop.rs"]
mod desktop;
#[path = "common/portal.rs"]
mod portal;
#[path = "common/pw_source.rs"]
mod pw_source;

use std::time::Duration;

use parley_engine::media::screen::{ScreenSource, ScreenTarget};
use parley_engine::media::VideoSource;

#[test]
fn a_second_share_in_the_same_process_starts_and_is_not_asked_for() {
    let desktop = portal::PortalDesktop::start(card::W as u32, card::H as u32, &card::rgb());
    let state = tempfile::tempdir().unwrap();
    // The only test in this binary, so nothing else reads the environment now.
    for (k, v) in desktop.env() {
        std::env::set_var(k, v);
    }
    std::env::set_var("PARLEY_SCREEN_BACKEND", "portal");
    std::env::set_var("XDG_STATE_HOME", state.path());

    let card = card::luma();
    for round in 1..=2 {
        // A hang must fail the test, not stall the suite.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let result = ScreenSource::open(&ScreenTarget::Primary).and_then(|mut src| {
                src.next_frame()?;
                src.next_frame()
            });
            let _ = tx.send(result);
        });
        let frame = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                panic!(
                    "share {round} did not start within 30 s\n{}",
                    desktop.logs()
                )
            })
            .unwrap_or_else(|e| panic!("share {round}: {e}\n{}", desktop.logs()));
        assert_eq!(
            (frame.width as usize, frame.height as usize),
            (card::W, card::H)
        );
        let psnr = card::region_psnr(&card, frame.y(), card::W, 0, 0, 0..card::H);
        eprintln!("share {round}: card PSNR {psnr:.1} dB");
        assert!(psnr >= 30.0, "share {round}: card PSNR {psnr:.1} dB < 30");
    }
    assert_eq!(desktop.times_asked(), 1, "the second share asked again");
}
