//! A group call in the app window: Bob's window and three headless peers.
//!
//! Dana (`parley-cli`, the clip and speech) calls Erin (the clip, silent) and
//! invites Bob's window once Erin answered: Bob's incoming call lists Erin as
//! already in the call. Bob accepts, then adds Finn (a contact of his; the test
//! pattern, silent) with "Add people". Bob's window then shows a grid of four
//! tiles (his own and three members, by name), every remote tile draws moving
//! frames of its own member, and Dana's tile, the only one with sound, is marked
//! as the active speaker, and still is after Bob picks other speakers mid-call.
//! A screenshot `group-call.png` is saved. A file Bob
//! drops for Finn (the drop path with Finn's tile as the target) arrives whole in
//! Finn's folder and in no one else's. Bob hangs up and his window returns to the
//! contact panel.

use std::process::Child;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::Peer as CliPeer;
use crate::contacts::{add_contact, enabled_and_visible, wait_online};
use crate::picture::{png_luma, Rect};
use crate::video::motion;
use crate::webdriver::WdResult;
use crate::{Ctx, LONG, MIN_MOTION, SHORT};

/// Kills the headless peers when the step ends, also on failure.
struct Running(Vec<(&'static str, Child)>);

impl Drop for Running {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn grid(ctx: &Ctx) -> WdResult<Vec<Value>> {
    let v = ctx
        .b
        .s
        .execute("return window.parleyTest.grid();", vec![])?;
    Ok(v.as_array().cloned().unwrap_or_default())
}

fn frames_of(tiles: &[Value], peer: &str) -> u64 {
    tiles
        .iter()
        .find(|t| t["peer"] == peer)
        .and_then(|t| t["frames"].as_u64())
        .unwrap_or(0)
}

pub(crate) fn grid_of_four(ctx: &Ctx, b_id: &str) -> WdResult<String> {
    let url = ctx.server_url.clone();
    let (dana, erin, finn) = (
        CliPeer::for_url(&url),
        CliPeer::for_url(&url),
        CliPeer::for_url(&url),
    );
    let clip = crate::common::media("chrome-320x180-15fps.y4m");
    let speech = crate::common::media("jfk.wav");
    let (clip, speech) = (clip.to_str().unwrap(), speech.to_str().unwrap());
    // Each takes files into its own folder: only Finn's may get the one Bob
    // drops on Finn's tile.
    let inbox = |p: &CliPeer| {
        let dir = p.path("in");
        std::fs::create_dir_all(&dir).unwrap();
        dir.to_str().unwrap().to_owned()
    };
    let (dana_in, erin_in, finn_in) = (inbox(&dana), inbox(&erin), inbox(&finn));
    let answer = |p: &CliPeer, inbox: &str, video: &[&str]| {
        let mut args = vec![
            "answer",
            "--timeout",
            "90",
            "--no-audio",
            "--receive-dir",
            inbox,
        ];
        args.extend_from_slice(video);
        p.spawn_logged(&args, "cli.log")
    };
    let mut running = Running(Vec::new());
    running
        .0
        .push(("erin", answer(&erin, &erin_in, &["--video-file", clip])));
    running.0.push((
        "finn",
        answer(&finn, &finn_in, &["--test-pattern", "320x180@15"]),
    ));
    // Finn is one of Bob's contacts, so "Add people" offers him (once the last
    // call's ended view has gone).
    ctx.b.s.wait_script(
        "the last call's view to go",
        "return document.querySelector('[data-testid=call-view]').hidden;",
        vec![],
        SHORT,
    )?;
    add_contact(&ctx.b, &finn.id, "Finn")?;
    wait_online(&ctx.b, &finn.id)?;
    running.0.push((
        "dana",
        dana.spawn_logged(
            &[
                "call",
                &erin.id,
                // An id may begin with '-': as --invite's value, not a
                // further positional argument (which would read as an option).
                "--invite",
                b_id,
                "--wait-online",
                "20",
                "--duration",
                "60",
                "--invite-at",
                "1",
                "--video-file",
                clip,
                "--audio-file",
                speech,
                "--receive-dir",
                &dana_in,
            ],
            "cli.log",
        ),
    ));
    let peers = [("Dana", &dana), ("Erin", &erin), ("Finn", &finn)];
    // What a failure reports: Bob's grid and the peers' logs.
    let diag = |e: String| -> String {
        let tiles = grid(ctx)
            .map(|g| Value::Array(g).to_string())
            .unwrap_or_else(|e| e);
        let logs: String = peers
            .iter()
            .map(|(who, p)| {
                format!(
                    "\n----- {who} ({}) log tail\n{}",
                    &p.id[..8],
                    p.log_tail("cli.log", 25)
                )
            })
            .collect();
        format!("{e}\nBob's grid: {tiles}{logs}")
    };
    let report =
        grid_steps(ctx, [&dana, &erin, &finn], &finn_in, [&dana_in, &erin_in]).map_err(diag)?;
    drop(running);
    Ok(report)
}

/// The steps once the peers run: Bob accepts, adds Finn, sees the grid, sends
/// Finn a file and leaves. `inboxes` are Dana's and Erin's receive folders.
fn grid_steps(
    ctx: &Ctx,
    [dana, erin, finn]: [&CliPeer; 3],
    finn_in: &str,
    inboxes: [&String; 2],
) -> WdResult<String> {
    let [dana_in, erin_in] = inboxes;
    let b = &ctx.b.s;
    // The invitation shows who is in the call already.
    let members = b.wait_for("[data-testid=incoming-members]", LONG, |s, e| {
        Ok(s.visible(e)? && s.text_content(e)?.contains(&erin.id[..8]))
    });
    members.map_err(|e| {
        format!(
            "Bob's incoming call does not list Erin ({}): {e}",
            &erin.id[..8]
        )
    })?;
    b.click(&b.wait_for("[data-testid=accept-call]", SHORT, enabled_and_visible)?)?;
    b.wait_visible("[data-testid=call-view][data-state=connected]", LONG)?;

    // Add Finn from the call.
    b.click(&b.wait_for("[data-testid=add-people]", LONG, enabled_and_visible)?)?;
    let item = b.wait_for("[data-testid=add-person]", SHORT, |s, e| {
        Ok(s.visible(e)? && s.text_content(e)?.contains("Finn"))
    })?;
    b.click(&item)?;

    // Four tiles, three members drawing frames.
    b.wait_visible("[data-testid=call-grid][data-tiles='4']", LONG)?;
    b.wait_script(
        "three member tiles drawing frames",
        "const g = window.parleyTest.grid(); return g.length === 3 && g.every((t) => t.state === 'connected' && t.frames > 10);",
        vec![],
        LONG,
    )?;
    let names: Vec<String> = b
        .find_all("[data-testid=member-tile] [data-testid=member-name]")?
        .iter()
        .map(|e| b.text_content(e))
        .collect::<WdResult<_>>()?;
    if !names.iter().any(|n| n == "Finn") || names.len() != 3 {
        return Err(format!(
            "member names {names:?}: want three, Finn among them"
        ));
    }

    // Every remote tile moves: frames count up, and within 4 s the tile's part
    // of a window screenshot differs from the first one (a still moment of the
    // clip must not fail the test; a frozen picture does). Window screenshots:
    // WebKit's element screenshot of a tile under the speaker ring is stale.
    let ids: Vec<String> = [dana, erin, finn].iter().map(|p| p.id.clone()).collect();
    let rects = b.execute(
        "return arguments[0].map((id) => { const r = document.querySelector(`[data-testid=member-tile][data-peer-id='${id}']`)\
           .getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; }).concat([[window.innerWidth]]);",
        vec![json!(ids)],
    )?;
    let num = |v: &Value| v.as_f64().unwrap_or(0.0);
    let before = grid(ctx)?;
    let first = png_luma(&b.screenshot()?)?;
    let k = first.w as f64 / num(&rects[3][0]).max(1.0);
    let mut tiles: Vec<(String, Rect, f64)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let r = &rects[i];
            let area = Rect {
                x: num(&r[0]) * k,
                y: num(&r[1]) * k,
                w: num(&r[2]) * k,
                h: num(&r[3]) * k,
            };
            (id.clone(), area, 0.0)
        })
        .collect();
    let started = std::time::Instant::now();
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(1000));
        let shot = png_luma(&b.screenshot()?)?;
        for (_, area, moved) in tiles.iter_mut() {
            *moved = moved.max(motion(&first, &shot, *area, &[]).unwrap_or(0.0));
        }
        if tiles.iter().all(|t| t.2 >= MIN_MOTION) {
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let after = grid(ctx)?;
    let mut report = Vec::new();
    for (id, _, moved) in &tiles {
        let (f1, f2) = (frames_of(&before, id), frames_of(&after, id));
        if f2 <= f1 || *moved < MIN_MOTION {
            return Err(format!(
                "tile of {}: frames {f1} → {f2} in {secs:.1} s, motion {moved:.2} (need ≥ {MIN_MOTION})",
                &id[..8]
            ));
        }
        let rate = (f2 - f1) as f64 / secs;
        report.push(format!(
            "{}: {rate:.1} frames/s drawn, motion {moved:.1}",
            &id[..8]
        ));
    }

    // Dana's is the only voice: her tile is the active speaker.
    b.wait_script(
        "Dana's tile marked as the active speaker",
        "const g = window.parleyTest.grid(); const s = g.filter((t) => t.speaking);\
         return s.length === 1 && s[0].peer === arguments[0]\
           && document.querySelector(`[data-testid=member-tile][data-peer-id='${arguments[0]}']`).dataset.speaking === 'true';",
        vec![json!(dana.id)],
        LONG,
    )?;
    ctx.save(&ctx.b, "group-call.png")?;

    // Other speakers picked mid-call: every member's audio moves to them with its
    // level meter, so Dana, speaking on, is still marked 2 s (more than the
    // speaker hold) after the switch.
    let switched = b.execute(
        "window.__speakersSwitchedAt = performance.now();\
         return window.__TAURI__.core.invoke('switch_device', { kind: 'speaker', name: 'Other speakers' })\
           .then(() => 'ok', (e) => JSON.stringify(e));",
        vec![],
    )?;
    if switched != json!("ok") {
        return Err(format!("switching the speakers failed: {switched}"));
    }
    b.wait_script(
        "Dana still marked as speaking 2 s after the speakers changed",
        "const g = window.parleyTest.grid(); const s = g.filter((t) => t.speaking);\
         return performance.now() - window.__speakersSwitchedAt > 2000\
           && s.length === 1 && s[0].peer === arguments[0];",
        vec![json!(dana.id)],
        LONG,
    )?;

    // A file dropped on Finn's tile (the drop path, parleyTest.sendFiles, with the
    // tile's member as the target) reaches Finn, and no one else.
    let name = "for-finn.bin";
    let file = dana.path(name);
    let data: Vec<u8> = (0..1_048_576u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(&file, &data).map_err(|e| format!("write {name}: {e}"))?;
    b.execute(
        "return Promise.resolve(window.parleyTest.sendFiles(arguments[0], [arguments[1]])).then((xs) => JSON.stringify(xs));",
        vec![json!(finn.id), json!(file.to_str().unwrap())],
    )?;
    b.wait_script(
        "the file dropped on Finn's tile to arrive",
        "return window.parleyTest.state().transfers.some((x) => x.peer === arguments[0] && x.direction === 'sending'\
           && x.state === 'completed');",
        vec![json!(finn.id)],
        LONG,
    )?;
    let got = std::fs::read(std::path::Path::new(finn_in).join(name))
        .map_err(|e| format!("Finn's copy of {name}: {e}"))?;
    if got != data {
        return Err(format!(
            "Finn's copy of {name} differs ({} bytes)",
            got.len()
        ));
    }
    // The call's side panel lists it (transfers with any member, not only the
    // first).
    b.wait_visible(
        &format!("[data-testid=call-chat] [data-testid=transfer][data-direction=sending][data-name=\"{name}\"]"),
        SHORT,
    )
    .map_err(|e| format!("the call view does not list the transfer to Finn: {e}"))?;
    for (who, dir) in [("Dana", dana_in), ("Erin", erin_in)] {
        if std::path::Path::new(dir).join(name).exists() {
            return Err(format!("{who} got the file dropped on Finn's tile"));
        }
    }

    // Bob leaves; his window goes back to the contact panel.
    let b = &ctx.b.s;
    b.click(&b.find("[data-testid=hangup]")?)?;
    b.wait_script(
        "Bob's window to leave the call",
        "const st = window.parleyTest.state(); return !st.call || st.call.state === 'ended';",
        vec![],
        LONG,
    )?;
    Ok(format!("group grid of four: {}", report.join("; ")))
}
