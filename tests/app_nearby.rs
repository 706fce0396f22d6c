//! Nearby in the app window (issue 16): the real app under Xvfb, driven through
//! WebDriver, with no server configured (its embedded one), on a LAN the test
//! builds from network namespaces: the app (and the test's own code, re-run
//! there) on one host of a bridge, a headless `parley-cli` peer (`--server auto
//! answer`) on another.
//!
//! Asserts:
//! - the app's Nearby section lists the peer within 3 s of the window opening
//!   its profile, marked "Not a contact", with its announced name;
//! - one click on its Add button makes it a contact: the marker goes and the
//!   contact list shows it;
//! - the peer sees the app too (`parley-cli nearby --watch` lists the app's id
//!   with the display name chosen at first start), and once "Visible to people
//!   on this network" is switched off in the settings the app vanishes from the
//!   peer's list within 3 s, while the app still lists the peer (browsing goes
//!   on);
//! - a screenshot `nearby.png` (`$PARLEY_SCREENSHOT_DIR`, or a temp folder).

mod common;
#[path = "common/desktop.rs"]
mod desktop;
#[path = "common/webdriver.rs"]
mod webdriver;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::netns::{self, Lab, Nat};
use common::{bin, media};
use desktop::{require, tail, Driver, Xvfb, INSTALL_HINT};
use serde_json::json;
use webdriver::{Session, WdResult};

const NAME: &str = "the_app_lists_people_nearby_and_adds_them";
/// The peer's namespace, for the part of the test that runs inside the app's.
const PEER_NS_ENV: &str = "PARLEY_NEARBY_PEER_NS";
const SHORT: Duration = Duration::from_secs(10);

#[test]
fn the_app_lists_people_nearby_and_adds_them() {
    if netns::inside() {
        return inside();
    }
    if !netns::available(NAME) {
        return;
    }
    // The desktop tools are checked here, where a missing one fails plainly.
    require("Xvfb", "Debian package xvfb");
    require("WebKitWebDriver", "Debian package webkit2gtk-driver");
    let lab = Lab::build(&[Nat::Open, Nat::Open]);
    let out = netns::run_inside(
        &lab.sites[0].host,
        NAME,
        &[(PEER_NS_ENV, lab.sites[1].host.clone())],
        Duration::from_secs(180),
    );
    for line in out.lines().filter(|l| l.starts_with("nearby:")) {
        println!("{line}");
    }
}

/// `parley-cli --profile PROFILE ARGS` in namespace `ns`.
fn cli(ns: &str, profile: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns])
        .arg(bin("parley-cli"))
        .arg("--profile")
        .arg(profile)
        .args(args);
    cmd
}

/// The peer's id (its profile is created on the way).
fn cli_id(profile: &std::path::Path) -> String {
    let out = Command::new(bin("parley-cli"))
        .arg("--profile")
        .arg(profile)
        .arg("id")
        .output()
        .expect("parley-cli id");
    let stdout = common::success(&out, "parley-cli id");
    stdout.lines().last().unwrap_or_default().trim().to_owned()
}

/// Kills a child at the end, whatever happened.
struct Killed(Option<Child>);
impl Drop for Killed {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn inside() {
    let peer_ns = std::env::var(PEER_NS_ENV).unwrap();
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

    // The peer on the other host: waits for a call, announced as nearby.
    let peer_profile = scratch.path().join("peer");
    let peer_id = cli_id(&peer_profile);
    let peer = cli(
        &peer_ns,
        &peer_profile,
        &["--server", "auto", "answer", "--timeout", "150"],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("parley-cli answer");
    let _peer = Killed(Some(peer));

    let xvfb = Xvfb::start(&xvfb_bin);
    let profile = scratch.path().join("app");
    std::fs::create_dir_all(&profile).unwrap();
    let env: Vec<(&str, OsString)> = vec![
        ("DISPLAY", xvfb.display.clone().into()),
        ("PARLEY_PROFILE", profile.into()),
        // The embedded server on every interface of this host, a free port.
        ("PARLEY_EMBEDDED_LISTEN", "0.0.0.0:0".into()),
        // What a failure shows: discovery's own account.
        (
            "RUST_LOG",
            "warn,parley_engine::nearby=debug,parley_engine::client::nearby=debug".into(),
        ),
        (
            "PARLEY_VIDEO_FILE",
            media("chrome-320x180-15fps.y4m").into(),
        ),
        ("PARLEY_AUDIO_FILE", media("jfk.wav").into()),
    ];
    let log = scratch.path().join("driver.log");
    let driver = Driver::start(&tauri_driver, &env, log.clone());
    let caps = json!({ "tauri:options": { "application": bin("parley").to_str().unwrap() } });
    let mut s = Session::new(driver.port, "nearby", caps).unwrap_or_else(|e| {
        panic!(
            "cannot open the app window through tauri-driver ({INSTALL_HINT}): {e}\n{}",
            tail(&log, 40)
        )
    });
    let result = scenario(&s, &peer_ns, &peer_id, scratch.path(), &shots);
    if let Err(e) = &result {
        let _ = std::fs::write(
            shots.join("failure-nearby.png"),
            s.screenshot().unwrap_or_default(),
        );
        let state = s
            .execute(
                "return JSON.stringify(window.parleyTest && window.parleyTest.state());",
                vec![],
            )
            .unwrap_or_default();
        let _ = s.delete();
        let dbg: String = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("nearby"))
            .take(100)
            .collect::<Vec<_>>()
            .join("\n");
        panic!(
            "{e}\nstate: {state}\ndriver log:\n{}\nnearby:\n{dbg}",
            tail(&log, 40)
        );
    }
    let _ = s.delete();
    println!("nearby: screenshot in {}", shots.display());
}

fn scenario(
    s: &Session,
    peer_ns: &str,
    peer_id: &str,
    scratch: &std::path::Path,
    shots: &std::path::Path,
) -> WdResult<()> {
    // First start: the name the app announces.
    let input = s.wait_visible("[data-testid=setup-name]", Duration::from_secs(30))?;
    s.send_keys(&input, "Dana")?;
    s.click(&s.find("[data-testid=setup-submit]")?)?;
    let named = Instant::now();
    let my_id = s
        .wait_script(
            "the profile id",
            "const s = window.parleyTest && window.parleyTest.state(); return s && s.me && s.me.id;",
            vec![],
            SHORT,
        )?
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // The peer lists us meanwhile (its own 15 s watch).
    let watcher_profile = scratch.join("watcher");
    cli_id(&watcher_profile);
    let mut watcher = cli(
        peer_ns,
        &watcher_profile,
        &["nearby", "--watch", "--timeout", "15"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .expect("parley-cli nearby --watch");
    let watching = Instant::now();
    // Its lines as they come (it ends by itself after 15 s).
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let stdout = watcher.stdout.take().expect("piped");
    let _watcher = Killed(Some(watcher));
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed: Vec<String> = Vec::new();
    // Waits up to `within` for the watcher's line starting with `prefix`.
    let mut line_of = |prefix: &str, within: Duration| -> Option<String> {
        let deadline = Instant::now() + within;
        if let Some(l) = printed.iter().find(|l| l.starts_with(prefix)) {
            return Some(l.clone());
        }
        while let Ok(l) = lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            printed.push(l.clone());
            if l.starts_with(prefix) {
                return Some(l);
            }
        }
        None
    };

    let item = format!("[data-testid=nearby-item][data-peer=\"{peer_id}\"]");
    s.wait_for(&item, SHORT, |s, e| s.visible(e))?;
    let found_ms = named.elapsed().as_millis();
    println!("nearby: the app lists the peer {found_ms} ms after its first start");
    if found_ms > 3_000 {
        return Err(format!("the peer was listed after {found_ms} ms"));
    }
    let stranger = format!("{item} [data-testid=nearby-stranger]");
    s.wait_for(&stranger, SHORT, |s, e| s.visible(e))?;
    std::fs::write(shots.join("nearby.png"), s.screenshot()?)
        .map_err(|e| format!("screenshot: {e}"))?;

    // One click: a contact.
    s.click(&s.find(&format!("{item} [data-testid=nearby-add]"))?)?;
    let contact = format!("[data-testid=contact][data-peer-id=\"{peer_id}\"]");
    s.wait_for(&contact, SHORT, |s, e| s.visible(e))?;
    s.wait_script(
        "the nearby item to lose its stranger marker",
        "const i = document.querySelector(arguments[0]); \
         return !!i && !i.querySelector('[data-testid=nearby-stranger]') && i.dataset.contact === 'true';",
        vec![item.clone().into()],
        SHORT,
    )?;
    println!("nearby: added as a contact in one click");

    // The peer lists us, with the name chosen at first start.
    let appeared =
        line_of(&format!("appeared {my_id} "), SHORT).ok_or("the peer never saw the app")?;
    println!("nearby: the peer printed {appeared:?}");
    if !appeared.ends_with(" Dana") {
        return Err(format!(
            "the app was listed as {appeared:?}, not with its name"
        ));
    }

    // Invisible: the peer stops listing us; we still list the peer.
    s.click(&s.wait_visible("[data-testid=settings-button]", SHORT)?)?;
    s.wait_visible("[data-testid=settings-dialog]", SHORT)?;
    let checked = s
        .execute(
            "return document.querySelector('[data-testid=setting-nearby-visible]').checked;",
            vec![],
        )?
        .as_bool()
        .unwrap_or(false);
    if !checked {
        return Err("the visibility switch starts off".into());
    }
    // As a user does: on the switch's label.
    s.click(&s.find("label[for=set-nearby-visible]")?)?;
    let hidden_at = watching.elapsed().as_millis() as i64;
    s.wait_script(
        "the switch to be off",
        "return !document.querySelector('[data-testid=setting-nearby-visible]').checked;",
        vec![],
        SHORT,
    )?;
    let vanished = line_of(&format!("vanished {my_id} "), SHORT)
        .ok_or("the app never vanished from the peer's list")?;
    let ms: i64 = vanished
        .split_whitespace()
        .nth(2)
        .and_then(|w| w.parse().ok())
        .ok_or_else(|| format!("no time in {vanished:?}"))?;
    // The peer's clock starts a little after `watching`: this reads a little short.
    let after = ms - hidden_at;
    println!("nearby: the app vanished from the peer's list {after} ms after the switch");
    if after > 3_000 {
        return Err(format!("vanished {after} ms after the switch"));
    }
    // Browsing goes on.
    s.execute(
        "document.querySelector('[data-testid=settings-cancel]')?.click();",
        vec![],
    )?;
    s.wait_for(&item, SHORT, |s, e| s.visible(e))?;
    Ok(())
}
