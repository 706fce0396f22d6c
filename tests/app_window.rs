//! The real app window: two `parley` instances under Xvfb, driven through WebDriver
//! (tauri-driver + WebKitWebDriver), separate profiles, one in-process signaling
//! server, file-backed camera and microphone (../shared/media).
//!
//! Asserts:
//! - first start: a display name creates the profile; each window shows its own id;
//! - each adds the other as a contact and sees them online (`data-online="true"`);
//! - Alice calls Bob from the contact panel, Bob's window shows the incoming call and
//!   accepts, and an OS notification "Alice is calling" reaches the notification
//!   service on the session bus (a private dbus-daemon with a stand-in
//!   `org.freedesktop.Notifications`); both call views reach `data-state="connected"`;
//! - on both sides the remote video moves (two element screenshots 1 s apart differ,
//!   PiP and overlays masked out), `parleyTest.video()` counts drawn frames up, and
//!   the drawn picture resembles the sender's clip (32x18 luma, best normalised
//!   correlation against some source frame ≥ 0.8);
//! - the stats overlay opens from the `stats-toggle` button and shows a resolution;
//! - a media outage (every UDP packet of Alice's app dropped by iptables until both
//!   windows show "Reconnecting…" over the frozen picture, then 3 s more): once the
//!   path is back the call recovers by itself, the banner goes and new remote
//!   frames are drawn on both sides, and Alice's stats overlay shows the new route
//!   (needs root; skipped with a line otherwise);
//! - chat goes both ways during the call and both windows list it in send order;
//! - Alice mutes with M and turns her camera off with V: Bob's window shows
//!   "Alice is muted" and her camera-off placeholder; M and V again restore both
//!   and Bob's view draws frames again;
//! - files sent through `parleyTest.sendFiles` (the drop path) are offered in Bob's
//!   call view (name, size, sender) and nothing is written before he answers: one
//!   he declines shows `declined` in both windows; a 5 MiB random file he accepts
//!   ends `completed` in both windows and lands in Bob's `PARLEY_DOWNLOAD_DIR` with
//!   the same SHA-256;
//! - screen share: Alice's picker lists her X screen with a thumbnail; once picked,
//!   her window shows the sharing indicator and Bob's shows the shared screen large,
//!   at its native 1280x800, not flat (luma σ ≥ 10), drawn pixel for pixel with 1:1
//!   zoom; Stop closes Bob's shared view while the call goes on;
//! - Alice picks the test pattern in the call's device menu (which lists the
//!   file-backed camera too): Bob's view and her preview switch to 640x360 while
//!   the call stays connected; picking a camera that is gone shows an error in
//!   her window naming it and the file-backed camera used instead, and Bob's view
//!   returns to the clip;
//! - hanging up returns both windows to the contact panel (no call view left);
//! - with no call, chat goes both ways in the contact panels and a file offered
//!   from Alice is accepted in Bob's panel and arrives with the same SHA-256,
//!   while neither window shows an incoming call or a call view;
//! - the built-in echo test contact is listed online; Bob calls it and his own
//!   video comes back (frames drawn in the remote view);
//! - an invite link `parley://add/<id>` started as `parley <link>` with Bob's
//!   profile is handed to his running window (the new process exits), which opens
//!   the add-contact dialog with the id filled in; the named contact is listed; a
//!   bad link shows an error and opens nothing;
//! - Bob switches the settings to Korean and the dark theme: the window's text
//!   and background change at once and the profile keeps the choice;
//! - Bob runs the connection check in the settings: the report shows the server
//!   signed in, and no STUN/TURN to test, no path across the internet, advice;
//! - both windows show the same safety number for the pair, the one
//!   `parley_proto::safety` computes; Alice marks Bob as verified, the mark shows
//!   in her panel and contact list, and still shows after her app is restarted on
//!   the same profile;
//! - Bob's app restarted on the same profile lists the files of this run in
//!   Alice's panel, newest first, each with how it ended and when ("Done ·
//!   07:42"), Open and Show in folder on the completed ones;
//! - a 512 MiB file Bob accepted does not arrive (his app quits while it
//!   flows): Alice's row says "waiting" with the reason, not "failed", and is
//!   still listed waiting after her app restarts; once Bob's app is back it
//!   goes on by itself and arrives with its SHA-256;
//! - Bob's window alone (Alice's closed) accepts a call from a headless
//!   `parley-cli` sending the clip; frames received and drawn per second are
//!   printed (BENCHMARKS.md), the call must connect and draw;
//! - a group call (app_window/group.rs): a headless peer calls another and
//!   invites Bob, whose incoming call lists who is in it; Bob adds a third
//!   headless peer with "Add people"; his window shows a grid of four tiles with
//!   moving video in each remote tile and the only speaking member marked as the
//!   active speaker (group-call.png);
//! - full-window screenshots contacts.png, incoming-call.png, in-call-stats.png, reconnecting.png,
//!   screen-picker.png, screen-share.png, remote-muted.png, transfer-offer.png, transfer.png, folder-offer.png, folder-received.png and safety-number.png are written to `$PARLEY_SCREENSHOT_DIR` (or a temp folder, printed).
//!
//! Needs Xvfb, WebKitWebDriver (Debian `webkit2gtk-driver`) and tauri-driver 2.1.0:
//! scripts/install-deps.sh installs them; `cargo build --workspace --bins` builds the
//! app first (scripts/test does both). Everything started is stopped on exit, also
//! when an assertion fails.

mod common;
#[path = "common/desktop.rs"]
mod desktop;
#[path = "common/picture.rs"]
mod picture;
#[path = "common/webdriver.rs"]
mod webdriver;

#[path = "app_window/chat.rs"]
mod chat;
#[path = "app_window/contacts.rs"]
mod contacts;
#[path = "app_window/devices.rs"]
mod devices;
#[path = "app_window/files.rs"]
mod files;
#[path = "app_window/folder.rs"]
mod folder;
#[path = "app_window/group.rs"]
mod group;
#[path = "app_window/invite.rs"]
mod invite;
#[path = "app_window/mute.rs"]
mod mute;
#[path = "app_window/notifications.rs"]
mod notifications;
#[path = "app_window/outage.rs"]
mod outage;
#[path = "app_window/outside_call.rs"]
mod outside_call;
#[path = "app_window/safety.rs"]
mod safety;
#[path = "app_window/screen.rs"]
mod screen;
#[path = "app_window/settings.rs"]
mod settings;
#[path = "app_window/tampered.rs"]
mod tampered;
#[path = "app_window/video.rs"]
mod video;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{bin, media, Server};
use contacts::{add_contact, contact_sel, enabled_and_visible, my_id, wait_online};
use desktop::{require, tail, Driver, Xvfb, INSTALL_HINT};
use picture::downscale_plane;
use serde_json::json;
use video::check_remote_video;
use webdriver::{Session, WdResult};

/// Connection steps (presence, ringing, connecting, transfer).
const LONG: Duration = Duration::from_secs(30);
/// UI reactions.
const SHORT: Duration = Duration::from_secs(10);
/// The downscaled grid for picture comparisons.
const GRID: (usize, usize) = (32, 18);
const MIN_CORRELATION: f64 = 0.8;
/// Mean absolute luma difference (levels) two remote shots 1 s apart must exceed.
const MIN_MOTION: f64 = 1.0;

// ---------------------------------------------------------------------------
// The scenario

struct Peer {
    s: Session,
    name: &'static str,
    download_dir: PathBuf,
    log: PathBuf,
    /// The app's environment (profile, server, display, bus).
    env: Vec<(&'static str, OsString)>,
    /// Its tauri-driver's port (a restart opens a new session there).
    driver_port: u16,
}

struct Ctx {
    /// The app binary.
    app: PathBuf,
    /// The signaling server both apps use.
    server_url: String,
    /// The relay Alice signs in through (faithful except in the tampering step).
    relay: common::hostile_relay::HostileRelay,
    /// WebDriver capabilities that start the app.
    caps: serde_json::Value,
    a: Peer,
    b: Peer,
    shots: PathBuf,
    notifications: notifications::NotificationBus,
    source: Vec<Vec<f64>>,
    started: Instant,
    steps: Vec<(String, Duration)>,
}

impl Ctx {
    fn save(&self, p: &Peer, file: &str) -> WdResult<()> {
        let png = p.s.screenshot()?;
        let path = self.shots.join(file);
        std::fs::write(&path, png).map_err(|e| format!("write {}: {e}", path.display()))
    }

    fn step(&mut self, name: &str) {
        self.steps.push((name.to_owned(), self.started.elapsed()));
    }

    /// Both windows' visible test ids, text and state, a failure screenshot each,
    /// and the tail of each driver/app log.
    fn diagnostics(&self) -> String {
        let mut out = String::new();
        for p in [&self.a, &self.b] {
            let shot = self.shots.join(format!("failure-{}.png", p.name));
            let saved = match p.s.screenshot() {
                Ok(png) => std::fs::write(&shot, png)
                    .map(|_| shot.display().to_string())
                    .unwrap_or_else(|e| e.to_string()),
                Err(e) => format!("(no screenshot: {e})"),
            };
            let page = p
                .s
                .execute(
                    "return (async () => { const vis = [...document.querySelectorAll('[data-testid]')].filter((e) => e.getClientRects().length)\
                       .map((e) => e.dataset.testid + (e.dataset.state ? '[' + e.dataset.state + ']' : '')).join(' ');\
                     let st = null; try { st = window.parleyTest && window.parleyTest.state(); } catch (e) { st = String(e); }\
                     let video = null; try { video = window.parleyTest && window.parleyTest.video(); } catch (e) {}\
                     let backend = null; try { const b = await window.__TAURI__.core.invoke('get_state');\
                       backend = { contacts: b.contacts, call: b.call, connection: b.connection }; } catch (e) { backend = String(e && e.message || e); }\
                     return JSON.stringify({ visible: vis, text: document.body.innerText.slice(0, 1200), video, ui_state: st, backend_state: backend }); })();",
                    vec![],
                )
                .map(|v| v.as_str().unwrap_or_default().to_owned())
                .unwrap_or_else(|e| format!("(page unavailable: {e})"));
            let page: String = page.chars().take(5000).collect();
            out.push_str(&format!(
                "\n===== {} window: screenshot {saved}\n{page}\n----- {} driver/app log (tail)\n{}\n",
                p.name,
                p.name,
                tail(&p.log, 40)
            ));
        }
        out
    }
}

fn scenario(ctx: &mut Ctx, scratch: &Path) -> WdResult<()> {
    // 2. First start.
    for (p, name) in [(&ctx.a, "Alice"), (&ctx.b, "Bob")] {
        let input = p.s.wait_visible("[data-testid=setup-name]", LONG)?;
        p.s.send_keys(&input, name)?;
        p.s.click(&p.s.find("[data-testid=setup-submit]")?)?;
    }
    let a_id = my_id(&ctx.a)?;
    let b_id = my_id(&ctx.b)?;
    for (p, id) in [(&ctx.a, &a_id), (&ctx.b, &b_id)] {
        if id.len() != 43 {
            return Err(format!("[{}] id {id:?} is not 43 characters", p.name));
        }
        p.s.wait_for("[data-testid=my-id]", SHORT, |s, e| {
            Ok(s.visible(e)? && s.text_content(e)?.trim() == id.as_str())
        })
        .map_err(|e| format!("{e}: the window does not show the id {id} from state()"))?;
    }
    if a_id == b_id {
        return Err("both profiles have the same id".into());
    }
    ctx.step("profiles created");
    let idle_raf = (video::raf_rate(&ctx.a)?, video::raf_rate(&ctx.b)?);

    // 3. Contacts and presence.
    add_contact(&ctx.a, &b_id, "Bob")?;
    add_contact(&ctx.b, &a_id, "Alice")?;
    wait_online(&ctx.a, &b_id)?;
    wait_online(&ctx.b, &a_id)?;
    ctx.save(&ctx.a, "contacts.png")?;
    ctx.step("contacts online");

    // 4. Call.
    let a = &ctx.a.s;
    a.click(&a.find(&format!(
        "{} [data-testid=contact-select]",
        contact_sel(&b_id)
    ))?)?;
    a.click(&a.wait_for("[data-testid=call-button]", LONG, enabled_and_visible)?)?;
    let b = &ctx.b.s;
    b.wait_visible("[data-testid=incoming-call]", LONG)?;
    let (summary, body) = ctx.notifications.wait_for("Alice", SHORT)?;
    eprintln!("Bob's OS notification: {summary:?} / {body:?}");
    let accept = b.wait_for("[data-testid=accept-call]", SHORT, enabled_and_visible)?;
    ctx.save(&ctx.b, "incoming-call.png")?;
    b.click(&accept)?;
    for p in [&ctx.a, &ctx.b] {
        p.s.wait_visible("[data-testid=call-view][data-state=connected]", LONG)?;
    }
    ctx.step("call connected");

    // 5. Remote video.
    for p in [&ctx.a, &ctx.b] {
        p.s.wait_script(
            "remote video frames drawn",
            "const v = window.parleyTest.video(); return v.remote.frames > 5 && v.remote.size;",
            vec![],
            LONG,
        )?;
    }
    for p in [&ctx.a, &ctx.b] {
        let summary = check_remote_video(ctx, p)?;
        eprintln!("video {summary}");
    }
    let call_raf = (video::raf_rate(&ctx.a)?, video::raf_rate(&ctx.b)?);
    eprintln!(
        "requestAnimationFrame per second (alice, bob): {idle_raf:?} before the call, {call_raf:?} in the call"
    );
    ctx.step("remote video checked");

    // Stats overlay, for the screenshot.
    let a = &ctx.a.s;
    a.click(&a.wait_for("[data-testid=stats-toggle]", SHORT, enabled_and_visible)?)?;
    a.wait_visible("[data-testid=stats-overlay]", SHORT)?;
    a.wait_script(
        "the stats overlay to show a resolution",
        "const d = document.querySelector('[data-testid=stats-overlay] dd'); return d && /\\d+×\\d+/.test(d.textContent);",
        vec![],
        SHORT,
    )?;
    // What we send, the video encoder's target and the congestion controller's estimate.
    a.wait_script(
        "the stats overlay to show the send bitrate, the video target and the estimate",
        "const d = document.querySelector('[data-testid=stats-sending]'); return d && /bit\\/s \\(video \\d.*bit\\/s of \\d.*bit\\/s available\\)/.test(d.textContent);",
        vec![],
        SHORT,
    )?;
    ctx.save(&ctx.a, "in-call-stats.png")?;
    ctx.step("stats overlay");

    // 5b. A media outage: both windows say "Reconnecting…"; the call comes back by
    // itself (the steps after it run on the same call).
    let outage = outage::media_outage(ctx)?;
    eprintln!("{outage}");
    ctx.step("media outage survived");

    // 6. Chat both ways.
    chat::both_ways(ctx)?;
    ctx.step("chat both ways");

    // 6b. Mute and camera off by keyboard; Bob sees both, then both come back.
    mute::mute_and_camera_by_keyboard(ctx)?;
    ctx.step("mute and camera off seen by the peer");

    // 7. Files through the drop path: one declined, one accepted (5 MiB, hash).
    files::decline_then_accept(ctx, scratch, &b_id)?;
    ctx.step("files declined and transferred");

    // 8. Screen share: Alice picks her screen in the picker (thumbnails), Bob sees it
    // large at the X screen's native size, pixel for pixel at 1:1; Alice stops.
    screen::share_screen(ctx)?;
    ctx.step("screen shared and stopped");

    // 9. Another camera mid-call: Bob's view follows.
    devices::switch_camera(ctx)?;
    ctx.step("camera switched");
    devices::camera_gone(ctx)?;
    ctx.step("missing camera reported");

    // 10. Hang up: both back to the contact panel.
    let a = &ctx.a.s;
    a.click(&a.wait_for("[data-testid=hangup]", SHORT, enabled_and_visible)?)?;
    for p in [&ctx.a, &ctx.b] {
        p.s.wait_script(
            "the call view to go away and the contact panel to show",
            "const cv = document.querySelector('[data-testid=call-view]');\
             const gone = !cv || !cv.getClientRects().length;\
             const p = document.querySelector('[data-testid=contact-panel]');\
             const st = window.parleyTest.state();\
             return gone && !!p && p.getClientRects().length > 0 && (!st.call || st.call.state === 'ended');",
            vec![],
            SHORT,
        )?;
    }
    // The received file in Bob's panel (completed), for the screenshot.
    ctx.b.s.wait_for(
        "[data-testid=transfer][data-state=completed]",
        SHORT,
        |s, e| s.visible(e),
    )?;
    ctx.save(&ctx.b, "transfer.png")?;
    ctx.step("hung up");

    // 10b. No call: chat both ways in the contact panels, and a file.
    outside_call::chat_and_file(ctx, scratch, &b_id)?;
    ctx.step("chat and a file without a call");

    // 10b'. A dropped folder: Bob is asked once, both windows count its files.
    folder::folder_drop(ctx, scratch, &b_id)?;
    ctx.step("a folder dropped, asked once, arrived as a tree");

    // 10c. A tampering signaling path: the call is refused, and both windows say so.
    tampered::tampered_call_is_refused(ctx, &b_id)?;
    ctx.step("tampered call refused");

    // 11. The built-in echo test: Bob calls it and sees his own camera come back.
    let b = &ctx.b.s;
    let echo = b.wait_for(
        "[data-testid=contact][data-echo=true][data-online=true] [data-testid=contact-select]",
        LONG,
        enabled_and_visible,
    )?;
    let echo_id = b
        .execute(
            "return arguments[0].closest('[data-testid=contact]').dataset.peerId;",
            vec![echo.json()],
        )?
        .as_str()
        .unwrap_or_default()
        .to_owned();
    b.click(&echo)?;
    // The panel must show the echo contact before its Call button calls it.
    b.wait_visible(
        &format!("[data-testid=contact-panel][data-peer-id=\"{echo_id}\"]"),
        SHORT,
    )?;
    b.click(&b.wait_for("[data-testid=call-button]", LONG, enabled_and_visible)?)?;
    b.wait_visible("[data-testid=call-view][data-state=connected]", LONG)?;
    b.wait_script(
        "Bob's own video back from the echo test",
        "const v = window.parleyTest.video(); return v.remote.frames > 5 && !!v.remote.size;",
        vec![],
        LONG,
    )?;
    b.click(&b.wait_for("[data-testid=hangup]", SHORT, enabled_and_visible)?)?;
    b.wait_script(
        "the echo call to end and its view to go away",
        "const st = window.parleyTest.state();\
         const cv = document.querySelector('[data-testid=call-view]');\
         return (!st.call || st.call.state === 'ended') && (!cv || !cv.getClientRects().length);",
        vec![],
        SHORT,
    )?;
    ctx.step("echo test call");

    // 12. An invite link opened by the OS reaches Bob's running window.
    invite::invite_link(ctx)?;
    ctx.step("invite link");

    // 12b. Language and theme from the settings dialog.
    settings::language_and_theme(&ctx.b)?;
    ctx.step("language and theme");

    // 12c. The connection check in the settings.
    settings::connection_check(&ctx.b)?;
    ctx.step("connection check");

    // 12d. Safety numbers: the same on both sides; "verified" survives a restart.
    safety::verify_and_restart(ctx, &a_id, &b_id)?;
    ctx.step("safety numbers");

    // 12e. The transfer history survives a restart of Bob's app.
    files::history_after_restart(ctx, &a_id)?;
    ctx.step("transfer history after a restart");

    // 12f. A file that did not arrive waits across restarts, then arrives.
    files::waits_across_restarts(ctx, scratch, &a_id, &b_id)?;
    ctx.step("a queued file waits across restarts");

    // 13. Bob's window alone, called by a headless peer: the draw rate without a
    // second window on the 2 cores (printed for BENCHMARKS.md).
    let rate = video::one_window_draw_rate(ctx, scratch, &b_id)?;
    eprintln!("{rate}");
    ctx.step("one window draw rate");

    // 14. A group call: Bob's window in a grid of four with three headless peers.
    let grid = group::grid_of_four(ctx, &b_id)?;
    eprintln!("{grid}");
    ctx.step("group call grid");
    Ok(())
}

#[test]
fn two_app_windows_call_chat_and_send_a_file() {
    let xvfb_bin = require("Xvfb", "Debian package xvfb");
    let _native = require("WebKitWebDriver", "Debian package webkit2gtk-driver");
    let tauri_driver = require(
        "tauri-driver",
        "cargo install tauri-driver --locked --version 2.1.0",
    );
    let app = bin("parley");
    let video = media("chrome-320x180-15fps.y4m");
    let audio = media("jfk.wav");

    let source: Vec<Vec<f64>> = parley_engine::media::read_y4m_all(&video)
        .expect("read the source clip")
        .iter()
        .map(|f| {
            let (w, h) = (f.width as usize, f.height as usize);
            downscale_plane(&f.data[..w * h], w, h, GRID.0, GRID.1)
        })
        .collect();

    let scratch = tempfile::Builder::new()
        .prefix("parley-app-window-")
        .tempdir()
        .unwrap();
    let shots = match std::env::var_os("PARLEY_SCREENSHOT_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            std::env::temp_dir().join(format!("parley-app-window-shots-{}", std::process::id()))
        }
    };
    std::fs::create_dir_all(&shots).unwrap();

    let started = Instant::now();
    let xvfb = Xvfb::start(&xvfb_bin);
    let server = Server::start();
    let relay = common::hostile_relay::HostileRelay::start(
        &server.url,
        common::hostile_relay::Tamper::None,
    );
    let bus = notifications::NotificationBus::start(scratch.path());
    let mut drivers = Vec::new();
    let mut dirs = Vec::new();
    for name in ["alice", "bob"] {
        let profile = scratch.path().join(name).join("profile");
        let downloads = scratch.path().join(name).join("downloads");
        std::fs::create_dir_all(&profile).unwrap();
        std::fs::create_dir_all(&downloads).unwrap();
        let env: Vec<(&str, OsString)> = vec![
            ("DISPLAY", xvfb.display.clone().into()),
            // The Xvfb screen, even when the developer's own session is Wayland.
            ("PARLEY_SCREEN_BACKEND", "xcap".into()),
            ("DBUS_SESSION_BUS_ADDRESS", bus.address.clone().into()),
            ("PARLEY_PROFILE", profile.into()),
            // Alice through the relay, Bob straight to the server.
            (
                "PARLEY_SERVER",
                if name == "alice" {
                    &relay.url
                } else {
                    &server.url
                }
                .clone()
                .into(),
            ),
            ("PARLEY_DOWNLOAD_DIR", downloads.clone().into()),
            // No mDNS onto the machine's real network (tests/app_nearby.rs
            // covers Nearby in namespaces of its own).
            ("PARLEY_NEARBY", "off".into()),
            ("PARLEY_VIDEO_FILE", video.clone().into()),
            ("PARLEY_AUDIO_FILE", audio.clone().into()),
            // Each app's media on its own loopback address, so the outage step can
            // cut Alice's alone.
            (
                "PARLEY_UDP_BIND",
                format!(
                    "{}:0",
                    if name == "alice" {
                        outage::ALICE_UDP_IP
                    } else {
                        outage::BOB_UDP_IP
                    }
                )
                .into(),
            ),
        ];
        let log = scratch.path().join(format!("{name}-driver.log"));
        drivers.push(Driver::start(&tauri_driver, &env, log.clone()));
        dirs.push((downloads, log, env));
    }
    let caps = json!({ "tauri:options": { "application": app.to_str().unwrap() } });
    let open = |i: usize, label: &str| {
        Session::new(drivers[i].port, label, caps.clone()).unwrap_or_else(|e| {
            panic!(
                "cannot open the app window through tauri-driver ({INSTALL_HINT}): {e}\n{}",
                tail(&drivers[i].log, 40)
            )
        })
    };
    let a = open(0, "alice");
    let b = open(1, "bob");
    let ((a_dl, a_log, a_env), (b_dl, b_log, b_env)) = (dirs[0].clone(), dirs[1].clone());
    let mut ctx = Ctx {
        app: app.clone(),
        server_url: server.url.clone(),
        relay,
        caps: caps.clone(),
        a: Peer {
            s: a,
            name: "alice",
            download_dir: a_dl,
            log: a_log,
            env: a_env,
            driver_port: drivers[0].port,
        },
        b: Peer {
            s: b,
            name: "bob",
            download_dir: b_dl,
            log: b_log,
            env: b_env,
            driver_port: drivers[1].port,
        },
        shots: shots.clone(),
        notifications: bus,
        source,
        started,
        steps: Vec::new(),
    };
    ctx.step("windows open");

    let result = scenario(&mut ctx, scratch.path());
    let diag = result.as_ref().err().map(|_| ctx.diagnostics());
    let timeline: String = ctx
        .steps
        .iter()
        .map(|(n, t)| format!("  {:>6.1} s  {n}\n", t.as_secs_f64()))
        .collect();
    eprintln!(
        "app_window timeline:\n{timeline}screenshots in {}",
        shots.display()
    );

    // Stop everything (sessions close the apps, then the drivers, Xvfb, server),
    // also before a failure is reported.
    drop(ctx);
    drop(drivers);
    drop(xvfb);
    drop(server);
    if let Err(e) = result {
        panic!(
            "{e}\n\ntimeline:\n{timeline}screenshots in {}{}",
            shots.display(),
            diag.unwrap_or_default()
        );
    }
}
