//! The real app window: two `parley` instances under Xvfb, driven through WebDriver
//! (tauri-driver + WebKitWebDriver), separate profiles, one in-process signaling
//! server, file-backed camera and microphone (../shared/media).
//!
//! Asserts:
//! - first start: a display name creates the profile; each window shows its own id;
//! - each adds the other as a contact and sees them online (`data-online="true"`);
//! - Alice calls Bob from the contact panel, Bob's window shows the incoming call and
//!   accepts; both call views reach `data-state="connected"`;
//! - on both sides the remote video moves (two element screenshots 1 s apart differ,
//!   PiP and overlays masked out), `parleyTest.video()` counts drawn frames up, and
//!   the drawn picture resembles the sender's clip (32x18 luma, best normalised
//!   correlation against some source frame ≥ 0.8);
//! - the stats overlay opens from the `stats-toggle` button and shows a resolution;
//! - chat goes both ways during the call and both windows list it in send order;
//! - a 5 MiB random file sent through `parleyTest.sendFiles` (the drop path) ends
//!   `completed` in both windows and lands in Bob's `PARLEY_DOWNLOAD_DIR` with the
//!   same SHA-256;
//! - screen share: Alice's picker lists her X screen with a thumbnail; once picked,
//!   her window shows the sharing indicator and Bob's shows the shared screen large,
//!   at its native 1280x800, not flat (luma σ ≥ 10), drawn pixel for pixel with 1:1
//!   zoom; Stop closes Bob's shared view while the call goes on;
//! - hanging up returns both windows to the contact panel (no call view left);
//! - the built-in echo test contact is listed online; Bob calls it and his own
//!   video comes back (frames drawn in the remote view);
//! - full-window screenshots contacts.png, incoming-call.png, in-call-stats.png,
//!   screen-picker.png, screen-share.png and transfer.png are written to `$PARLEY_SCREENSHOT_DIR` (or a temp folder, printed).
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

use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{bin, media, Server};
use desktop::{require, tail, Driver, Xvfb, INSTALL_HINT};
use picture::{correlation, downscale_masked, downscale_plane, letterbox, png_luma, Luma, Rect};
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use webdriver::{Element, Session, WdResult};

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
}

struct Ctx {
    a: Peer,
    b: Peer,
    shots: PathBuf,
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

fn my_id(p: &Peer) -> WdResult<String> {
    let v = p.s.wait_script(
        "the profile id",
        "const s = window.parleyTest && window.parleyTest.state(); return s && s.me && s.me.id;",
        vec![],
        LONG,
    )?;
    Ok(v.as_str().unwrap_or_default().to_owned())
}

fn js_bool(s: &Session, script: &str, el: &Element) -> WdResult<bool> {
    Ok(s.execute(script, vec![el.json()])?
        .as_bool()
        .unwrap_or(false))
}

fn enabled_and_visible(s: &Session, el: &Element) -> WdResult<bool> {
    Ok(s.visible(el)? && js_bool(s, "return !arguments[0].disabled;", el)?)
}

fn contact_sel(id: &str) -> String {
    format!("[data-testid=contact][data-peer-id=\"{id}\"]")
}

fn add_contact(p: &Peer, id: &str, name: &str) -> WdResult<()> {
    let s = &p.s;
    s.click(&s.wait_visible("[data-testid=add-contact]", SHORT)?)?;
    let id_input = s.wait_visible("[data-testid=add-contact-id]", SHORT)?;
    s.send_keys(&id_input, id)?;
    s.send_keys(&s.find("[data-testid=add-contact-name]")?, name)?;
    s.click(&s.find("[data-testid=add-contact-submit]")?)?;
    s.wait_for(&contact_sel(id), SHORT, |s, e| s.visible(e))?;
    s.wait_script(
        "the add-contact dialog to close",
        "const d = document.querySelector('[data-testid=add-contact-dialog]'); return !d || !d.getClientRects().length;",
        vec![],
        SHORT,
    )?;
    Ok(())
}

/// Waits until `p`'s contact list shows `id` online; on timeout says whether the
/// backend (`get_state`) knew better than the window.
fn wait_online(p: &Peer, id: &str) -> WdResult<()> {
    let sel = format!("{}[data-online=true]", contact_sel(id));
    let Err(e) = p.s.wait_for(&sel, LONG, |s, e| s.visible(e)) else {
        return Ok(());
    };
    let backend =
        p.s.execute(
            "return window.__TAURI__.core.invoke('get_state').then((s) => s.contacts);",
            vec![],
        )
        .unwrap_or_else(Value::String);
    let says_online = backend.as_array().into_iter().flatten().any(|c| {
        c.get("id").and_then(Value::as_str) == Some(id)
            && c.get("online").and_then(Value::as_bool) == Some(true)
    });
    Err(if says_online {
        format!(
            "{e}\n[{}] the window shows the contact offline while the backend's get_state says \
             online ({backend}): the UI missed or overwrote the presence update",
            p.name
        )
    } else {
        format!("{e}\n[{}] backend contacts: {backend}", p.name)
    })
}

/// Where the remote video sits in an element screenshot of `remote-video`, and
/// what covers it; plus the view's counters.
struct VideoGeometry {
    area: Rect,
    mask: Vec<Rect>,
    frames: u64,
    info: Value,
}

fn video_geometry(s: &Session, shot: &Luma) -> WdResult<VideoGeometry> {
    let v = s.execute(
        "const c = document.querySelector('[data-testid=remote-video]'); const r = c.getBoundingClientRect();\
         const v = window.parleyTest.video().remote;\
         const masks = [...document.querySelectorAll('.pip, [data-testid=stats-overlay], .toast, .shortcut-pop, .ring-panel')]\
           .filter((e) => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')\
           .map((e) => { const m = e.getBoundingClientRect(); return [m.left - r.left, m.top - r.top, m.width, m.height]; });\
         return { cw: c.width, ch: c.height, cssW: r.width, cssH: r.height, frames: v.frames, fps: v.fps,\
                  renderer: v.renderer, size: v.size, masks };",
        vec![],
    )?;
    let f = |k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    let (cw, ch, css_w) = (f("cw"), f("ch"), f("cssW"));
    let size = v.get("size").filter(|s| !s.is_null()).ok_or_else(|| {
        format!(
            "[{}] parleyTest.video().remote.size is null: nothing drawn ({v})",
            s.label
        )
    })?;
    let fw = size.get("width").and_then(Value::as_f64).unwrap_or(0.0);
    let fh = size.get("height").and_then(Value::as_f64).unwrap_or(0.0);
    if cw < 1.0 || ch < 1.0 || fw < 1.0 || fh < 1.0 || css_w < 1.0 {
        return Err(format!("[{}] unusable video geometry {v}", s.label));
    }
    // Canvas pixels → screenshot pixels; CSS pixels → screenshot pixels.
    let k = shot.w as f64 / cw;
    let kc = shot.w as f64 / css_w;
    let lb = letterbox(cw, ch, fw, fh);
    let area = Rect {
        x: lb.x * k,
        y: lb.y * k,
        w: lb.w * k,
        h: lb.h * k,
    };
    let mask = v
        .get("masks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| {
            let m: Vec<f64> = m.as_array()?.iter().filter_map(Value::as_f64).collect();
            Some(Rect {
                x: m[0] * kc,
                y: m[1] * kc,
                w: m[2] * kc,
                h: m[3] * kc,
            })
        })
        .collect();
    Ok(VideoGeometry {
        area,
        mask,
        frames: f("frames") as u64,
        info: v,
    })
}

/// Mean absolute difference inside `area` outside `mask`.
fn motion(a: &Luma, b: &Luma, area: Rect, mask: &[Rect]) -> Option<f64> {
    if a.w != b.w || a.h != b.h {
        return None;
    }
    let (mut sum, mut n) = (0.0f64, 0usize);
    let (y0, y1) = (area.y.max(0.0) as u32, ((area.y + area.h) as u32).min(a.h));
    let (x0, x1) = (area.x.max(0.0) as u32, ((area.x + area.w) as u32).min(a.w));
    for y in y0..y1 {
        for x in x0..x1 {
            let (cx, cy) = (x as f64 + 0.5, y as f64 + 0.5);
            if mask.iter().any(|m| m.contains(cx, cy)) {
                continue;
            }
            let i = (y * a.w + x) as usize;
            sum += (a.px[i] - b.px[i]).abs() as f64;
            n += 1;
        }
    }
    if n == 0 {
        return None;
    }
    Some(sum / n as f64)
}

/// Best correlation of the shot's video area with any source frame, its index, and
/// the median over all frames (how discriminating the best one is).
fn best_match(ctx: &Ctx, shot: &Luma, g: &VideoGeometry) -> (f64, usize, f64) {
    let grid = downscale_masked(shot, g.area, &g.mask, GRID.0, GRID.1);
    let mut all: Vec<(f64, usize)> = ctx
        .source
        .iter()
        .enumerate()
        .map(|(i, src)| (correlation(&grid, src), i))
        .collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    let median = all.get(all.len() / 2).map_or(0.0, |x| x.0);
    all.first().map_or((0.0, 0, 0.0), |&(c, i)| (c, i, median))
}

/// Two element screenshots ~1 s apart: moving, counting up, resembling the clip.
fn check_remote_video(ctx: &Ctx, p: &Peer) -> WdResult<String> {
    let s = &p.s;
    let canvas = s.find("[data-testid=remote-video]")?;
    let shot1 = png_luma(&s.element_screenshot(&canvas)?)?;
    let g1 = video_geometry(s, &shot1)?;
    // Up to three more shots 1 s apart: a still moment of the clip must not fail
    // the test, a frozen picture (identical redraws, difference ~0) still does.
    let mut tries = 0;
    let (png2, shot2, g2, diff) = loop {
        tries += 1;
        std::thread::sleep(Duration::from_millis(1000));
        let png2 = s.element_screenshot(&canvas)?;
        let shot2 = png_luma(&png2)?;
        let g2 = video_geometry(s, &shot2)?;
        let mut mask = g1.mask.clone();
        mask.extend(g2.mask.iter().copied());
        let diff = motion(&shot1, &shot2, g2.area, &mask).ok_or_else(|| {
            format!(
                "[{}] remote-video screenshots differ in size ({}x{} vs {}x{}) or the video area is empty",
                p.name, shot1.w, shot1.h, shot2.w, shot2.h
            )
        })?;
        if diff >= MIN_MOTION || tries == 3 {
            break (png2, shot2, g2, diff);
        }
    };
    let (c1, i1, med1) = best_match(ctx, &shot1, &g1);
    let (c2, i2, med2) = best_match(ctx, &shot2, &g2);
    let summary = format!(
        "{}: motion {diff:.2} levels after {tries} s, frames {} → {}, best correlation {c1:.3} (source frame {i1}, \
         median over frames {med1:.3}) / {c2:.3} (frame {i2}, median {med2:.3}), view {}",
        p.name, g1.frames, g2.frames, g2.info
    );
    let problem = if g2.frames <= g1.frames {
        Some("remote frames are not counting up".to_owned())
    } else if diff < MIN_MOTION {
        Some("the remote video does not move".to_owned())
    } else if c1.max(c2) < MIN_CORRELATION {
        Some(format!(
            "the remote video does not resemble the source clip (need ≥ {MIN_CORRELATION})"
        ))
    } else {
        None
    };
    if let Some(problem) = problem {
        // The element screenshot, for a look at what was compared.
        let path = ctx
            .shots
            .join(format!("failure-remote-video-{}.png", p.name));
        let _ = std::fs::write(&path, &png2);
        return Err(format!(
            "[{}] {problem}: {summary}; remote-video screenshot {}",
            p.name,
            path.display()
        ));
    }
    Ok(summary)
}

fn msg_text(s: &Session, el: &Element) -> WdResult<String> {
    let v = s.execute(
        "const t = arguments[0].querySelector('.msg-text'); return t ? t.textContent : arguments[0].textContent;",
        vec![el.json()],
    )?;
    Ok(v.as_str().unwrap_or_default().to_owned())
}

fn send_chat(p: &Peer, text: &str) -> WdResult<()> {
    let s = &p.s;
    let input = s.wait_visible("[data-testid=chat-input]", SHORT)?;
    s.send_keys(&input, text)?;
    s.click(&s.wait_for("[data-testid=chat-send]", SHORT, enabled_and_visible)?)?;
    Ok(())
}

fn wait_received(p: &Peer, text: &str) -> WdResult<()> {
    p.s.wait_for(
        "[data-testid=chat-message][data-direction=received]",
        LONG,
        |s, e| Ok(msg_text(s, e)? == text),
    )
    .map(|_| ())
}

fn chat_list(p: &Peer) -> WdResult<Vec<(String, String)>> {
    let v = p.s.execute(
        "return [...document.querySelectorAll('[data-testid=chat-message]')].map((e) =>\
           [e.dataset.direction, (e.querySelector('.msg-text') || e).textContent]);",
        vec![],
    )?;
    Ok(v.as_array()
        .into_iter()
        .flatten()
        .map(|pair| {
            let s = |i: usize| pair[i].as_str().unwrap_or_default().to_owned();
            (s(0), s(1))
        })
        .collect())
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut f = File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

fn wait_transfer(p: &Peer, direction: &str, name: &str) -> WdResult<Element> {
    let sel = format!("[data-testid=transfer][data-direction={direction}]");
    let el = p.s.wait_for(&sel, LONG, |s, e| {
        let state = s.attribute(e, "data-state")?.unwrap_or_default();
        let n = s.attribute(e, "data-name")?.unwrap_or_default();
        if n == name && (state == "failed" || state == "cancelled") {
            return Ok(true); // reported below
        }
        Ok(n == name && state == "completed")
    })?;
    let state = p.s.attribute(&el, "data-state")?.unwrap_or_default();
    if state != "completed" {
        let why = p.s.text_content(&el).unwrap_or_default();
        return Err(format!(
            "[{}] transfer of {name} ended {state}: {why}",
            p.name
        ));
    }
    Ok(el)
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
    ctx.save(&ctx.a, "in-call-stats.png")?;
    ctx.step("stats overlay");

    // 6. Chat both ways.
    // Non-ASCII but inside the BMP: WebKitWebDriver's Element Send Keys drops
    // characters outside it (emoji).
    let (m1, m2) = (
        "Grüße, Bob — can you see me?",
        "Loud and clear, Alice! 안녕",
    );
    send_chat(&ctx.a, m1)?;
    wait_received(&ctx.b, m1)?;
    send_chat(&ctx.b, m2)?;
    wait_received(&ctx.a, m2)?;
    let want_a = vec![
        ("sent".to_owned(), m1.to_owned()),
        ("received".to_owned(), m2.to_owned()),
    ];
    let want_b = vec![
        ("received".to_owned(), m1.to_owned()),
        ("sent".to_owned(), m2.to_owned()),
    ];
    for (p, want) in [(&ctx.a, &want_a), (&ctx.b, &want_b)] {
        let start = Instant::now();
        loop {
            let got = chat_list(p)?;
            if got == *want {
                break;
            }
            if start.elapsed() > SHORT {
                return Err(format!("[{}] chat list {got:?}, want {want:?}", p.name));
            }
            std::thread::sleep(webdriver::POLL);
        }
    }
    ctx.step("chat both ways");

    // 7. A 5 MiB file through the drop path.
    let name = "random-5MiB.bin";
    let file = scratch.join(name);
    let mut data = vec![0u8; 5 * 1024 * 1024];
    rand::thread_rng().fill_bytes(&mut data);
    std::fs::write(&file, &data).unwrap();
    let want_sha = hex::encode(Sha256::digest(&data));
    drop(data);
    let sent = ctx.a.s.execute(
        "return Promise.resolve(window.parleyTest.sendFiles(arguments[0], [arguments[1]])).then((xs) => JSON.stringify(xs));",
        vec![json!(b_id), json!(file.to_str().unwrap())],
    )?;
    eprintln!("sendFiles returned {sent}");
    wait_transfer(&ctx.b, "receiving", name)?;
    wait_transfer(&ctx.a, "sending", name)?;
    let got = ctx.b.download_dir.join(name);
    let got_sha = sha256_file(&got).map_err(|e| {
        let listing: Vec<_> = std::fs::read_dir(&ctx.b.download_dir)
            .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        format!(
            "[bob] {}: {e} (download dir holds {listing:?})",
            got.display()
        )
    })?;
    if got_sha != want_sha {
        return Err(format!(
            "[bob] {} has SHA-256 {got_sha}, sent {want_sha}",
            got.display()
        ));
    }
    ctx.step("file transferred");

    // 8. Screen share: Alice picks her screen in the picker (thumbnails), Bob sees it
    // large at the X screen's native size, pixel for pixel at 1:1; Alice stops.
    share_screen(ctx)?;
    ctx.step("screen shared and stopped");

    // 9. Hang up: both back to the contact panel.
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

    // 10. The built-in echo test: Bob calls it and sees his own camera come back.
    let b = &ctx.b.s;
    let echo = b.wait_for(
        "[data-testid=contact][data-echo=true][data-online=true] [data-testid=contact-select]",
        LONG,
        enabled_and_visible,
    )?;
    b.click(&echo)?;
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
        "the echo call to end",
        "const st = window.parleyTest.state(); return !st.call || st.call.state === 'ended';",
        vec![],
        SHORT,
    )?;
    ctx.step("echo test call");
    Ok(())
}

fn share_screen(ctx: &Ctx) -> WdResult<()> {
    let a = &ctx.a.s;
    a.click(&a.wait_for("[data-testid=screen-share]", SHORT, enabled_and_visible)?)?;
    a.wait_visible("[data-testid=screen-picker]", SHORT)?;
    let monitor = a.wait_for(
        "[data-testid=screen-source][data-kind=monitor]",
        LONG,
        enabled_and_visible,
    )?;
    a.wait_script(
        "a thumbnail of the screen in the picker",
        "const i = document.querySelector('[data-testid=screen-source][data-kind=monitor] img');\
         return !!i && i.complete && i.naturalWidth >= 100;",
        vec![],
        LONG,
    )?;
    ctx.save(&ctx.a, "screen-picker.png")?;
    a.click(&monitor)?;
    a.wait_visible("[data-testid=sharing-indicator]", LONG)?;
    let b = &ctx.b.s;
    b.wait_visible("[data-testid=remote-screen]", LONG)?;
    b.wait_script(
        "the shared screen drawn at its native 1280x800",
        "const v = window.parleyTest.video().screen;\
         return v.frames > 3 && !!v.size && v.size.width === 1280 && v.size.height === 800;",
        vec![],
        LONG,
    )?;
    // What Bob sees is a desktop with two app windows on it, not a flat picture.
    let canvas = b.find("[data-testid=remote-screen]")?;
    let shot = png_luma(&b.element_screenshot(&canvas)?)?;
    let n = shot.px.len() as f64;
    let mean = shot.px.iter().map(|&p| f64::from(p)).sum::<f64>() / n;
    let var = shot
        .px
        .iter()
        .map(|&p| (f64::from(p) - mean).powi(2))
        .sum::<f64>()
        / n;
    if var.sqrt() < 10.0 {
        return Err(format!(
            "[bob] the shared screen looks flat (luma σ {:.1})",
            var.sqrt()
        ));
    }
    b.click(&b.wait_for("[data-testid=screen-zoom]", SHORT, enabled_and_visible)?)?;
    b.wait_script(
        "1:1 zoom to draw the screen pixel for pixel",
        "const v = window.parleyTest.video().screen;\
         return !!v.size && Math.abs(v.drawn.width * devicePixelRatio - v.size.width) <= 1\
           && Math.abs(v.drawn.height * devicePixelRatio - v.size.height) <= 1;",
        vec![],
        SHORT,
    )?;
    ctx.save(&ctx.b, "screen-share.png")?;
    a.click(&a.find("[data-testid=stop-sharing]")?)?;
    b.wait_script(
        "the shared view to close when Alice stops",
        "const el = document.querySelector('[data-testid=remote-screen]');\
         const st = window.parleyTest.state();\
         return !!st.call && !st.call.remoteSharing && (!el || !el.getClientRects().length);",
        vec![],
        LONG,
    )?;
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
    let mut drivers = Vec::new();
    let mut dirs = Vec::new();
    for name in ["alice", "bob"] {
        let profile = scratch.path().join(name).join("profile");
        let downloads = scratch.path().join(name).join("downloads");
        std::fs::create_dir_all(&profile).unwrap();
        std::fs::create_dir_all(&downloads).unwrap();
        let env: Vec<(&str, OsString)> = vec![
            ("DISPLAY", xvfb.display.clone().into()),
            ("PARLEY_PROFILE", profile.into()),
            ("PARLEY_SERVER", server.url.clone().into()),
            ("PARLEY_DOWNLOAD_DIR", downloads.clone().into()),
            ("PARLEY_VIDEO_FILE", video.clone().into()),
            ("PARLEY_AUDIO_FILE", audio.clone().into()),
        ];
        let log = scratch.path().join(format!("{name}-driver.log"));
        drivers.push(Driver::start(&tauri_driver, &env, log.clone()));
        dirs.push((downloads, log));
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
    let ((a_dl, a_log), (b_dl, b_log)) = (dirs[0].clone(), dirs[1].clone());
    let mut ctx = Ctx {
        a: Peer {
            s: a,
            name: "alice",
            download_dir: a_dl,
            log: a_log,
        },
        b: Peer {
            s: b,
            name: "bob",
            download_dir: b_dl,
            log: b_log,
        },
        shots: shots.clone(),
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
