//! Calling someone nearby from the app (issue 16): two app windows, each with
//! its own profile and its own embedded server (no server configured, a free
//! port each), under one Xvfb on one host of a LAN the test builds from network
//! namespaces (tauri-driver listens on 127.0.0.1 only, so both windows are
//! driven from inside that host).
//!
//! Asserts:
//! - each window lists the other under Nearby within 3 s of its first start,
//!   marked "Not a contact";
//! - after one click on Add in Ana's window, her contacts show Ben online on
//!   this network, named "Ben (<start of his id>)" because she already has a
//!   contact named Ben (`data-via="nearby"`). Ben has not added Ana, so he is signed
//!   in to no server of hers: she learns it by signing in to his embedded server,
//!   with a sign-in bound to its address (protocol 5);
//! - one click on Call in Ana's Nearby list rings Ben's window through his own
//!   server (she is a stranger to him: strangers may ring); he accepts, both call
//!   views connect and draw the other's clip (frames counted up, 320x180);
//! - hanging up returns both windows to the contact panel;
//! - Ben adds Ana in one click and then lists her online on this network;
//! - chat with no call goes both ways (a data session, contacts only);
//! - a screenshot `nearby-call.png` of Ana's window before the call
//!   (`$PARLEY_SCREENSHOT_DIR`, or a temp folder).

mod common;
#[path = "common/desktop.rs"]
mod desktop;
#[path = "common/webdriver.rs"]
mod webdriver;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::netns::{self, Lab, Nat};
use common::{bin, media};
use desktop::{require, tail, Driver, Xvfb, INSTALL_HINT};
use serde_json::json;
use webdriver::{Session, WdResult};

const NAME: &str = "two_app_windows_find_and_call_each_other_nearby";
const SHORT: Duration = Duration::from_secs(10);
const LONG: Duration = Duration::from_secs(30);

#[test]
fn two_app_windows_find_and_call_each_other_nearby() {
    if netns::inside() {
        return inside();
    }
    if !netns::available(NAME) {
        return;
    }
    require("Xvfb", "Debian package xvfb");
    require("WebKitWebDriver", "Debian package webkit2gtk-driver");
    let lab = Lab::build(&[Nat::Open]);
    let out = netns::run_inside(&lab.sites[0].host, NAME, &[], Duration::from_secs(240));
    // The inner harness prints its "test … " on the line of the first one.
    for line in out
        .lines()
        .filter_map(|l| l.find("nearby-call:").map(|i| &l[i..]))
    {
        println!("{line}");
    }
}

/// One app window.
struct App {
    name: &'static str,
    s: Session,
    log: PathBuf,
    _driver: Driver,
}

fn inside() {
    let xvfb_bin = require("Xvfb", "Debian package xvfb");
    let tauri_driver = require(
        "tauri-driver",
        "cargo install tauri-driver --locked --version 2.1.0",
    );
    let scratch = tempfile::tempdir().unwrap();
    let shots = match std::env::var_os("PARLEY_SCREENSHOT_DIR") {
        Some(d) => PathBuf::from(d),
        None => std::env::temp_dir().join(format!("parley-nearby-shots-{}", std::process::id())),
    };
    std::fs::create_dir_all(&shots).unwrap();
    let xvfb = Xvfb::start(&xvfb_bin);
    let mut apps = Vec::new();
    for (name, video) in [
        ("Ana", "chrome-320x180-15fps.y4m"),
        ("Ben", "chrome-320x180-15fps.y4m"),
    ] {
        let dir = scratch.path().join(name);
        let profile = dir.join("profile");
        std::fs::create_dir_all(&profile).unwrap();
        let env: Vec<(&str, OsString)> = vec![
            ("DISPLAY", xvfb.display.clone().into()),
            ("PARLEY_PROFILE", profile.into()),
            ("PARLEY_DOWNLOAD_DIR", dir.clone().into()),
            // Each embedded server on every interface of this host, a free port.
            ("PARLEY_EMBEDDED_LISTEN", "0.0.0.0:0".into()),
            (
                "RUST_LOG",
                "warn,parley_engine::client=info,parley_engine::nearby=debug".into(),
            ),
            ("PARLEY_VIDEO_FILE", media(video).into()),
            ("PARLEY_AUDIO_FILE", media("jfk.wav").into()),
        ];
        let log = dir.join("driver.log");
        let driver = Driver::start(&tauri_driver, &env, log.clone());
        let caps = json!({ "tauri:options": { "application": bin("parley").to_str().unwrap() } });
        let s = Session::new(driver.port, name, caps).unwrap_or_else(|e| {
            panic!(
                "cannot open {name}'s window through tauri-driver ({INSTALL_HINT}): {e}\n{}",
                tail(&log, 40)
            )
        });
        apps.push(App {
            name,
            s,
            log,
            _driver: driver,
        });
    }
    let result = scenario(&apps, &shots);
    if let Err(e) = &result {
        let mut report = String::new();
        for app in &apps {
            let _ = std::fs::write(
                shots.join(format!("failure-nearby-call-{}.png", app.name)),
                app.s.screenshot().unwrap_or_default(),
            );
            let state = app
                .s
                .execute(
                    "return JSON.stringify(window.parleyTest && window.parleyTest.state());",
                    vec![],
                )
                .unwrap_or_default();
            let state: String = state.to_string().chars().take(3000).collect();
            report.push_str(&format!(
                "\n===== {}: state {state}\n{}\n",
                app.name,
                tail(&app.log, 60)
            ));
        }
        for mut app in apps {
            let _ = app.s.delete();
        }
        panic!("{e}{report}");
    }
    for mut app in apps {
        let _ = app.s.delete();
    }
    println!("nearby-call: screenshot in {}", shots.display());
}

/// The profile id the window shows in its state.
fn my_id(s: &Session) -> WdResult<String> {
    Ok(s.wait_script(
        "the profile id",
        "const s = window.parleyTest && window.parleyTest.state(); return s && s.me && s.me.id;",
        vec![],
        LONG,
    )?
    .as_str()
    .unwrap_or_default()
    .to_owned())
}

fn enabled_and_visible(s: &Session, e: &webdriver::Element) -> WdResult<bool> {
    Ok(s.visible(e)?
        && s.execute("return !arguments[0].disabled;", vec![e.json()])?
            .as_bool()
            .unwrap_or(false))
}

/// Adds `id` as `name` through the add-contact dialog.
fn add_contact(app: &App, id: &str, name: &str) -> WdResult<()> {
    let s = &app.s;
    s.click(&s.wait_visible("[data-testid=add-contact]", SHORT)?)?;
    s.send_keys(&s.wait_visible("[data-testid=add-contact-id]", SHORT)?, id)?;
    s.send_keys(&s.find("[data-testid=add-contact-name]")?, name)?;
    s.click(&s.find("[data-testid=add-contact-submit]")?)?;
    s.wait_for(
        &format!("[data-testid=contact][data-peer-id=\"{id}\"]"),
        SHORT,
        |s, e| s.visible(e),
    )?;
    Ok(())
}

/// Waits until `app`'s contact list shows `id` online, found on this network.
fn online_nearby(app: &App, id: &str) -> WdResult<()> {
    let sel =
        format!("[data-testid=contact][data-peer-id=\"{id}\"][data-online=true][data-via=nearby]");
    app.s
        .wait_for(&sel, LONG, |s, e| s.visible(e))
        .map(|_| ())
        .map_err(|e| format!("[{}] the contact never showed online nearby: {e}", app.name))
}

fn scenario(apps: &[App], shots: &Path) -> WdResult<()> {
    let (ana, ben) = (&apps[0], &apps[1]);
    for app in apps {
        let input = app
            .s
            .wait_visible("[data-testid=setup-name]", Duration::from_secs(60))?;
        app.s.send_keys(&input, app.name)?;
        app.s.click(&app.s.find("[data-testid=setup-submit]")?)?;
    }
    let named = Instant::now();
    let ids = [my_id(&ana.s)?, my_id(&ben.s)?];
    if ids[0] == ids[1] || ids.iter().any(|id| id.len() != 43) {
        return Err(format!("bad ids {ids:?}"));
    }

    // Each lists the other, as a stranger.
    for (app, other) in [(ana, &ids[1]), (ben, &ids[0])] {
        let item = format!("[data-testid=nearby-item][data-peer=\"{other}\"]");
        app.s
            .wait_for(
                &format!("{item} [data-testid=nearby-stranger]"),
                SHORT,
                |s, e| s.visible(e),
            )
            .map_err(|e| format!("[{}] {e}", app.name))?;
        let ms = named.elapsed().as_millis();
        println!(
            "nearby-call: {} lists the other window {ms} ms after both first starts",
            app.name
        );
        if ms > 3_000 {
            return Err(format!("[{}] listed the other after {ms} ms", app.name));
        }
    }
    // Ana already has a contact named Ben (someone else).
    let other_ben = parley_proto::PeerId::from_public_key(
        &ed25519_dalek::SigningKey::from_bytes(&[42; 32]).verifying_key(),
    );
    add_contact(ana, other_ben.as_str(), "Ben")?;

    // Ana adds Ben in one click. Ben has not added her, so he is on no server
    // of hers: she sees him online only by signing in to his.
    let ben_item = format!("[data-testid=nearby-item][data-peer=\"{}\"]", ids[1]);
    ana.s.click(
        &ana.s
            .find(&format!("{ben_item} [data-testid=nearby-add]"))?,
    )?;
    let added = Instant::now();
    online_nearby(ana, &ids[1])?;
    // Under a name that tells him from the Ben she had.
    let want = format!("Ben ({})", &ids[1][..6]);
    let named = ana.s.wait_script(
        "the contact's name",
        "const e = document.querySelector(`[data-testid=contact][data-peer-id=\"${arguments[0]}\"] .contact-name`);\
         return e && e.textContent;",
        vec![ids[1].clone().into()],
        SHORT,
    )?;
    if named.as_str() != Some(want.as_str()) {
        return Err(format!(
            "[Ana] the nearby Ben was added as {named}, want {want:?}"
        ));
    }
    println!(
        "nearby-call: Ana shows Ben online on this network {} ms after Add",
        added.elapsed().as_millis()
    );

    // Ana's window: Ben under Nearby with Call, and online in her contacts.
    std::fs::write(shots.join("nearby-call.png"), ana.s.screenshot()?)
        .map_err(|e| format!("screenshot: {e}"))?;

    // One click on Call in Ana's Nearby list.
    let call = format!(
        "[data-testid=nearby-item][data-peer=\"{}\"] [data-testid=nearby-call]",
        ids[1]
    );
    let clicked = Instant::now();
    ana.s
        .click(&ana.s.wait_for(&call, SHORT, enabled_and_visible)?)?;
    let accept = ben
        .s
        .wait_for("[data-testid=accept-call]", LONG, enabled_and_visible)
        .map_err(|e| format!("[Ben] no incoming call: {e}"))?;
    ben.s.click(&accept)?;
    for app in apps {
        app.s
            .wait_visible("[data-testid=call-view][data-state=connected]", LONG)
            .map_err(|e| format!("[{}] {e}", app.name))?;
    }
    println!(
        "nearby-call: connected {} ms after the click on Call",
        clicked.elapsed().as_millis()
    );
    for app in apps {
        let v = app
            .s
            .wait_script(
                "remote video frames drawn",
                "const v = window.parleyTest.video(); \
                 return v.remote.frames > 10 && v.remote.size && `${v.remote.size.width}x${v.remote.size.height}`;",
                vec![],
                LONG,
            )
            .map_err(|e| format!("[{}] {e}", app.name))?;
        println!("nearby-call: {} draws the other's video, {v}", app.name);
        if v.as_str() != Some("320x180") {
            return Err(format!(
                "[{}] remote picture {v}, not the clip's 320x180",
                app.name
            ));
        }
    }
    // Hang up: both back to the contact panel.
    ana.s.click(
        &ana.s
            .wait_for("[data-testid=hangup]", SHORT, enabled_and_visible)?,
    )?;
    for app in apps {
        app.s
            .wait_script(
                "the call view to close",
                "const v = document.querySelector('[data-testid=call-view]'); return !v || !v.getClientRects().length;",
                vec![],
                SHORT,
            )
            .map_err(|e| format!("[{}] {e}", app.name))?;
    }

    // Ben adds Ana too: she is listed online on this network in his window.
    let ana_item = format!("[data-testid=nearby-item][data-peer=\"{}\"]", ids[0]);
    ben.s.click(
        &ben.s
            .find(&format!("{ana_item} [data-testid=nearby-add]"))?,
    )?;
    online_nearby(ben, &ids[0])?;

    // Chat with no call, both ways: a data session between the two servers.
    for (app, other) in [(ana, &ids[1]), (ben, &ids[0])] {
        let select =
            format!("[data-testid=contact][data-peer-id=\"{other}\"] [data-testid=contact-select]");
        app.s
            .click(&app.s.wait_for(&select, SHORT, enabled_and_visible)?)?;
    }
    for (from, to, text) in [
        (ana, ben, "Ben, I'm at the desk by the window."),
        (ben, ana, "On my way, Ana."),
    ] {
        let input = from.s.wait_visible("[data-testid=chat-input]", SHORT)?;
        from.s.send_keys(&input, text)?;
        from.s.click(
            &from
                .s
                .wait_for("[data-testid=chat-send]", SHORT, enabled_and_visible)?,
        )?;
        to.s.wait_script(
            "the chat message",
            "return [...document.querySelectorAll('[data-testid=chat-message][data-direction=received]')]\
               .some((e) => (e.querySelector('.msg-text') || e).textContent === arguments[0]);",
            vec![text.into()],
            LONG,
        )
        .map_err(|e| format!("[{}] never got {text:?} from {}: {e}", to.name, from.name))?;
    }
    println!("nearby-call: chat outside the call went both ways");
    Ok(())
}
