//! Screen sharing on Wayland through the desktop ScreenCast portal, between two
//! `parley-cli` processes: a private session bus, PipeWire, the real
//! xdg-desktop-portal, and a test ScreenCast backend whose screen is the known card
//! (colour bars, gradient, checkerboard, 1- and 2-pixel text) played into PipeWire
//! (see `common/portal.rs`). Alice's process sees `XDG_SESSION_TYPE=wayland`, so
//! Parley picks the portal by itself. She shares "the screen chosen in the system
//! dialog" twice, in two separate calls; the backend counts how often it asked.
//!
//! Asserts:
//! - both calls: the received screen frames are the card's size and show it sharp
//!   (luma PSNR ≥ 30 dB over the card and over its text band), and sharing started
//!   and stopped mid-call without dropping it;
//! - the first share asked the user once and left a restore token behind; the
//!   second share did not ask again (the token was sent and honoured);
//! - when the desktop ends the cast (its own "stop sharing" control), the share
//!   ends at once and the call goes on;
//! - a token the portal no longer knows (revoked by the user) and a malformed one
//!   (a corrupted file) each cost one question, not the share, and are replaced by
//!   a valid token.

#[path = "common/card.rs"]
mod card;
mod common;
#[path = "common/desktop.rs"]
mod desktop;
#[path = "common/portal.rs"]
mod portal;
#[path = "common/pw_source.rs"]
mod pw_source;
#[path = "common/share.rs"]
mod share;

use common::*;

/// Alice's environment: the portal session, a Wayland session type, and her own
/// state folder (where the restore token goes).
fn alice_env<'a>(desktop: &'a portal::PortalDesktop, state: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut env = desktop.env();
    env.extend([("XDG_SESSION_TYPE", "wayland"), ("XDG_STATE_HOME", state)]);
    env
}

#[test]
fn a_screen_shared_through_the_portal_arrives_sharp_and_is_not_asked_for_twice() {
    let desktop = portal::PortalDesktop::start(card::W as u32, card::H as u32, &card::rgb());
    let server = Server::start();
    let (alice, bob) = (Peer::new(&server), Peer::new(&server));
    let state = alice.path("state");
    let token_file = state.join("parley/screencast-restore-token");
    let state = state.display().to_string();
    let mut env = desktop.env();
    env.extend([
        ("XDG_SESSION_TYPE", "wayland"),
        ("XDG_STATE_HOME", state.as_str()),
    ]);

    let revoked = "0b5e7ed0-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
    let malformed = "not-a-token";
    for (round, asked_in_all) in [(1, 1), (2, 1), (3, 2), (4, 3)] {
        match round {
            3 => std::fs::write(&token_file, revoked).unwrap(),
            4 => std::fs::write(&token_file, malformed).unwrap(),
            _ => {}
        }
        let frames = share::share_and_record(&alice, &bob, "", &env, || {
            eprintln!("{}", desktop.logs());
        });
        assert!(
            frames
                .iter()
                .all(|f| (f.width as usize, f.height as usize) == (card::W, card::H)),
            "share {round}: frames are {}x{}, the screen is {}x{}",
            frames[0].width,
            frames[0].height,
            card::W,
            card::H
        );
        share::assert_card_is_sharp(&frames, (0, 0));
        assert_eq!(
            desktop.times_asked(),
            asked_in_all,
            "share {round}: the portal asked the user {} times in all, not {asked_in_all}",
            desktop.times_asked()
        );
        let token = std::fs::read_to_string(&token_file).unwrap_or_else(|e| {
            panic!(
                "share {round}: no restore token at {}: {e}\n{}",
                token_file.display(),
                desktop.logs()
            )
        });
        assert!(
            !token.trim().is_empty() && token != revoked && token != malformed,
            "share {round}: restore token {token:?}"
        );
    }
}

#[test]
fn the_desktop_stopping_the_cast_ends_the_share_but_not_the_call() {
    let desktop = portal::PortalDesktop::start(card::W as u32, card::H as u32, &card::rgb());
    desktop.close_next_cast_after(1.5);
    let server = Server::start();
    let (alice, bob) = (Peer::new(&server), Peer::new(&server));
    let state = alice.path("state").display().to_string();
    let env = alice_env(&desktop, &state);
    let answer = bob.spawn(&[
        "answer",
        "--stats",
        "--no-audio",
        "--test-pattern",
        "320x180@15",
    ]);
    let_answerer_log_in();
    let call = alice.spawn_with_env(
        &[
            "call",
            &bob.id,
            "--stats",
            "--duration",
            "7",
            "--no-audio",
            "--test-pattern",
            "320x180@15",
            "--share-screen",
            "--share-at",
            "1",
        ],
        &env,
    );
    let (call_out, _) = wait(call, std::time::Duration::from_secs(60), "caller");
    let (answer_out, _) = wait(answer, std::time::Duration::from_secs(15), "callee");
    let caller = stats(&success(&call_out, "caller"));
    let callee = stats(&success(&answer_out, "callee"));
    let callee_log = String::from_utf8_lossy(&answer_out.stderr);
    assert!(
        callee_log.contains("the peer stopped sharing its screen"),
        "the callee was not told the share ended:\n{callee_log}\n{}",
        desktop.logs()
    );
    assert_eq!(callee["end_reason"], "the other side hung up");
    let camera = callee["frames_received"].as_u64().unwrap();
    assert!(
        camera >= 60,
        "only {camera} camera frames in 7 s: the call faltered"
    );
    // Sharing for the 6 s left would send at least 30 frames (5 frames/s at the
    // least); the desktop ended the cast 1.5 s after it started (the CLI opens the
    // portal when it starts, before the call), so little or nothing was sent.
    let screen_sent = caller["screen_frames_sent"].as_u64().unwrap();
    assert!(
        screen_sent < 25,
        "{screen_sent} screen frames sent: the share did not end with the cast"
    );
}
