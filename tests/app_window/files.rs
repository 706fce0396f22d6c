//! Files through the drop path (`parleyTest.sendFiles`): Bob's window asks, he
//! declines one and accepts the other, which arrives with the same hash.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::contacts::{contact_sel, enabled_and_visible};
use crate::webdriver::{Element, Session, WdResult};
use crate::{Ctx, Peer, LONG};

pub(crate) fn sha256_file(path: &Path) -> std::io::Result<String> {
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

pub(crate) fn wait_transfer(p: &Peer, direction: &str, name: &str) -> WdResult<Element> {
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

/// The transfer row of `name` going `direction` in `p`'s window, once it shows
/// `state`.
pub(crate) fn wait_state(p: &Peer, direction: &str, name: &str, state: &str) -> WdResult<Element> {
    let sel = format!("[data-testid=transfer][data-direction={direction}][data-state={state}]");
    p.s.wait_for(&sel, LONG, |s, e| {
        Ok(s.visible(e)? && s.attribute(e, "data-name")?.as_deref() == Some(name))
    })
    .map_err(|e| format!("[{}] {name} never showed {state}: {e}", p.name))
}

/// Offers `file` from Alice to Bob the way a drop does.
pub(crate) fn offer(ctx: &Ctx, b_id: &str, file: &Path) -> WdResult<()> {
    let sent = ctx.a.s.execute(
        "return Promise.resolve(window.parleyTest.sendFiles(arguments[0], [arguments[1]])).then((xs) => JSON.stringify(xs));",
        vec![json!(b_id), json!(file.to_str().unwrap())],
    )?;
    eprintln!("sendFiles returned {sent}");
    Ok(())
}

/// Clicks the visible button `testid` in a receiving row of `name` in `p`'s
/// window (during a call the row shows in the call's side panel).
pub(crate) fn click_in(p: &Peer, name: &str, testid: &str) -> WdResult<()> {
    let css = format!(
        "[data-testid=transfer][data-direction=receiving][data-name=\"{name}\"] [data-testid={testid}]"
    );
    // The call view covers the contact panel (whose rows still count as displayed):
    // its side panel's row first.
    let in_call = format!("[data-testid=call-chat] {css}");
    for css in [in_call, css] {
        for button in p.s.find_all(&css)? {
            if p.s.visible(&button)? {
                return p.s.click(&button);
            }
        }
    }
    Err(format!("[{}] no visible {testid} for {name}", p.name))
}

/// A small file Bob declines (Alice's window says declined, nothing lands), then
/// 5 MiB of random bytes he accepts after seeing the offer (name, size, sender):
/// both windows end `completed` and Bob's download folder holds the same SHA-256.
pub(crate) fn decline_then_accept(ctx: &Ctx, scratch: &Path, b_id: &str) -> WdResult<()> {
    let unwanted = scratch.join("unwanted.txt");
    std::fs::write(&unwanted, b"no thanks").unwrap();
    offer(ctx, b_id, &unwanted)?;
    wait_state(&ctx.b, "receiving", "unwanted.txt", "offered")?;
    click_in(&ctx.b, "unwanted.txt", "transfer-decline")?;
    wait_state(&ctx.a, "sending", "unwanted.txt", "declined")?;
    wait_state(&ctx.b, "receiving", "unwanted.txt", "declined")?;

    let name = "random-5MiB.bin";
    let file = scratch.join(name);
    let mut data = vec![0u8; 5 * 1024 * 1024];
    rand::thread_rng().fill_bytes(&mut data);
    std::fs::write(&file, &data).unwrap();
    let want_sha = hex::encode(Sha256::digest(&data));
    drop(data);
    offer(ctx, b_id, &file)?;
    let row = wait_state(&ctx.b, "receiving", name, "offered")?;
    let text = ctx.b.s.text_content(&row)?;
    if !text.contains("Alice") || !text.contains("5.24 MB") {
        return Err(format!(
            "[bob] the offer does not say who sends and how big: {text:?}"
        ));
    }
    wait_state(&ctx.a, "sending", name, "offered")?;
    ctx.save(&ctx.b, "transfer-offer.png")?;
    let listing = || -> Vec<_> {
        std::fs::read_dir(&ctx.b.download_dir)
            .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default()
    };
    if !listing().is_empty() {
        return Err(format!(
            "[bob] files written before an answer: {:?}",
            listing()
        ));
    }
    click_in(&ctx.b, name, "transfer-accept")?;
    wait_transfer(&ctx.b, "receiving", name)?;
    wait_transfer(&ctx.a, "sending", name)?;
    let got = ctx.b.download_dir.join(name);
    let got_sha = sha256_file(&got).map_err(|e| {
        format!(
            "[bob] {}: {e} (download dir holds {:?})",
            got.display(),
            listing()
        )
    })?;
    if got_sha != want_sha {
        return Err(format!(
            "[bob] {} has SHA-256 {got_sha}, sent {want_sha}",
            got.display()
        ));
    }
    Ok(())
}

/// The transfer history survives a restart: Bob's app is restarted on the same
/// profile, and Alice's panel lists the files of this run, newest first, each
/// with how it ended and when; the completed ones can be opened and shown in
/// their folder.
pub(crate) fn history_after_restart(ctx: &mut Ctx, a_id: &str) -> WdResult<()> {
    ctx.b.s.delete()?;
    ctx.b.s = Session::new(ctx.b.driver_port, "bob", ctx.caps.clone())?;
    let b = &ctx.b.s;
    b.wait_visible("[data-testid=contact-list]", LONG)?;
    b.click(&b.wait_for(
        &format!("{} [data-testid=contact-select]", contact_sel(a_id)),
        LONG,
        enabled_and_visible,
    )?)?;
    let expected = [
        (crate::folder::FOLDER, "completed"),
        ("after-the-call.bin", "completed"),
        ("random-5MiB.bin", "completed"),
        ("unwanted.txt", "declined"),
    ];
    let rows = b.wait_script(
        "Bob's transfer history after a restart",
        "const rows = [...document.querySelectorAll('[data-testid=transfer][data-direction=receiving]')]\
           .filter((e) => e.getClientRects().length);\
         return rows.length >= 4 ? rows.map((e) => [e.dataset.name, e.dataset.state,\
           e.querySelector('.xfer-detail').textContent,\
           !!e.querySelector('[data-testid=transfer-open]').getClientRects().length,\
           !!e.querySelector('[data-testid=transfer-show]').getClientRects().length]) : null;",
        vec![],
        LONG,
    )
    .map_err(|e| format!("[bob] no transfer history after a restart: {e}"))?;
    let rows: Vec<(String, String, String, bool, bool)> =
        serde_json::from_value(rows).map_err(|e| e.to_string())?;
    let got: Vec<(&str, &str)> = rows.iter().map(|r| (r.0.as_str(), r.1.as_str())).collect();
    if got != expected {
        return Err(format!(
            "[bob] history after a restart lists {rows:?}, expected {expected:?} (newest first)"
        ));
    }
    for (name, state, detail, open, show) in &rows {
        let done = state == "completed";
        // "Done · 07:42": how it ended, and when.
        if !detail.contains(" · ") || *open != done || *show != done {
            return Err(format!(
                "[bob] history row {name}: detail {detail:?}, Open shown {open}, Show in folder shown {show}"
            ));
        }
    }
    eprintln!("history after a restart: {rows:?}");
    Ok(())
}

/// A file that does not arrive waits, across restarts: Alice sends 512 MiB,
/// Bob accepts and his app quits while it flows. Alice's row says "waiting"
/// with the reason (not "failed"), and still does after her app is restarted
/// (the queue is in her profile). Bob's app starts again: the file goes on by
/// itself, resumed without asking him again, and arrives with its SHA-256.
pub(crate) fn waits_across_restarts(
    ctx: &mut Ctx,
    scratch: &Path,
    a_id: &str,
    b_id: &str,
) -> WdResult<()> {
    let name = "waits-512MiB.bin";
    let file = scratch.join(name);
    {
        use std::io::Write as _;
        let mut out = std::io::BufWriter::new(File::create(&file).unwrap());
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..512 {
            rand::thread_rng().fill_bytes(&mut block);
            out.write_all(&block).unwrap();
        }
    }
    let want_sha = sha256_file(&file).map_err(|e| e.to_string())?;
    offer(ctx, b_id, &file)?;
    wait_state(&ctx.b, "receiving", name, "offered")?;
    click_in(&ctx.b, name, "transfer-accept")?;
    wait_state(&ctx.a, "sending", name, "active")?;
    // Bob's app quits mid-transfer.
    ctx.b.s.delete()?;
    let row = wait_state(&ctx.a, "sending", name, "waiting")?;
    let text = ctx.a.s.text_content(&row)?;
    if !text.contains("Waiting") {
        return Err(format!(
            "[alice] the waiting row does not say why: {text:?}"
        ));
    }
    ctx.save(&ctx.a, "transfer-waiting.png")?;

    // Alice's app restarts: the queued file is listed, still waiting.
    ctx.a.s.delete()?;
    ctx.a.s = Session::new(ctx.a.driver_port, "alice", ctx.caps.clone())?;
    let a = &ctx.a.s;
    a.wait_visible("[data-testid=contact-list]", LONG)?;
    a.click(&a.wait_for(
        &format!("{} [data-testid=contact-select]", contact_sel(b_id)),
        LONG,
        enabled_and_visible,
    )?)?;
    wait_state(&ctx.a, "sending", name, "waiting")
        .map_err(|e| format!("after a restart, the queued file is not listed: {e}"))?;

    // Bob's app is back: the file goes on by itself and arrives whole.
    ctx.b.s = Session::new(ctx.b.driver_port, "bob", ctx.caps.clone())?;
    ctx.b.s.wait_visible("[data-testid=contact-list]", LONG)?;
    wait_transfer(&ctx.a, "sending", name)?;
    let got = ctx.b.download_dir.join(name);
    let got_sha = sha256_file(&got).map_err(|e| format!("[bob] {}: {e}", got.display()))?;
    if got_sha != want_sha {
        return Err(format!(
            "[bob] {name} has SHA-256 {got_sha}, sent {want_sha}"
        ));
    }
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(&got);
    let _ = a_id;
    Ok(())
}
