//! A dropped folder (issue 14): Alice drops a folder on Bob's contact (the
//! drop path, `parleyTest.sendFiles`); Bob's window asks once, for the whole
//! folder, saying who sends it, how many files and how big; he accepts. Both
//! windows show the folder as one row whose progress counts files and bytes
//! while it moves, and end `completed`; the same tree arrives, every file
//! with its SHA-256, and the empty folder too.

use std::collections::BTreeMap;
use std::path::Path;

use rand::RngCore;
use serde_json::json;

use crate::files::{click_in, offer, sha256_file, wait_state, wait_transfer};
use crate::webdriver::WdResult;
use crate::{Ctx, Peer, SHORT};

/// The folder's name.
pub(crate) const FOLDER: &str = "album";
/// Small files in it, beside the big one, a note and an empty folder.
const SMALL: usize = 300;
/// The big file, bytes: long enough for both windows to show the folder moving.
const BIG: usize = 160 << 20;

/// Writes the folder; returns each file's path in it and SHA-256 ("dir" for
/// the empty folder), and the total size in bytes.
fn build(root: &Path) -> (BTreeMap<String, String>, u64) {
    let mut want = BTreeMap::new();
    let mut total = 0u64;
    let mut put = |rel: &str, bytes: usize| {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut data = vec![0u8; bytes];
        rand::thread_rng().fill_bytes(&mut data);
        std::fs::write(&path, &data).unwrap();
        want.insert(rel.to_owned(), sha256_file(&path).unwrap());
        total += bytes as u64;
    };
    // Sent first (entries go sorted): it moves while the small ones arrive.
    put("a-big.bin", BIG);
    put("notes/readme.txt", 1200);
    for i in 0..SMALL {
        put(&format!("photos/{}/img{i:03}.jpg", 2020 + i % 4), 8192);
    }
    std::fs::create_dir_all(root.join("empty")).unwrap();
    want.insert("empty/".to_owned(), "dir".to_owned());
    (want, total)
}

/// Starts recording, in `p`'s window, the folder row's detail text each time
/// it shows the folder moving.
fn watch_row(p: &Peer) -> WdResult<()> {
    p.s.execute(
        "window.__folderSeen = [];\
         window.__folderWatch = setInterval(() => {\
           const row = [...document.querySelectorAll(`[data-testid=transfer][data-kind=folder][data-name=\"${arguments[0]}\"]`)]\
             .find((e) => e.getClientRects().length);\
           if (row && row.dataset.state === 'active') window.__folderSeen.push(row.querySelector('.xfer-detail').textContent);\
         }, 25);",
        vec![json!(FOLDER)],
    )?;
    Ok(())
}

/// What `p`'s window showed while the folder moved: the detail with the most
/// of its files counted while some were still to come (`120 of 303 files`),
/// else an error.
fn saw_progress(p: &Peer, files: usize) -> WdResult<String> {
    let seen = p.s.execute(
        "clearInterval(window.__folderWatch); return window.__folderSeen;",
        vec![],
    )?;
    let seen: Vec<String> = serde_json::from_value(seen).map_err(|e| e.to_string())?;
    // Part of it there, part still to come: the folder's own progress.
    let counted = seen
        .iter()
        .filter(|d| d.contains(&format!(" of {files} files")))
        .filter_map(|d| {
            let n = d.split(" of ").next()?.trim().parse::<usize>().ok()?;
            (n > 0 && n < files).then_some((n, d))
        })
        .max_by_key(|(n, _)| *n)
        .map(|(_, d)| d);
    counted.cloned().ok_or_else(|| {
        format!(
            "[{}] the folder's row never showed its files counted while it moved: {:?}",
            p.name,
            seen.iter().take(5).collect::<Vec<_>>()
        )
    })
}

/// See the module doc.
pub(crate) fn folder_drop(ctx: &Ctx, scratch: &Path, b_id: &str) -> WdResult<()> {
    let root = scratch.join(FOLDER);
    let (want, total) = build(&root);
    let files = want.len();
    for p in [&ctx.a, &ctx.b] {
        watch_row(p)?;
    }
    offer(ctx, b_id, &root)?;

    // One question, for the folder.
    let row = wait_state(&ctx.b, "receiving", FOLDER, "offered")?;
    let text = ctx.b.s.text_content(&row)?;
    let size = format!("{:.0} MB", total as f64 / 1e6);
    if !text.contains("Alice") || !text.contains(&format!("{files} files")) || !text.contains(&size)
    {
        return Err(format!(
            "[bob] the folder's offer does not say who sends it, how many files and how big ({files} files, {size}): {text:?}"
        ));
    }
    let asked = ctx.b.s.execute(
        "return [...document.querySelectorAll('[data-testid=transfer][data-direction=receiving][data-state=offered]')]\
           .filter((e) => e.getClientRects().length).map((e) => e.dataset.name);",
        vec![],
    )?;
    if asked != json!([FOLDER]) {
        return Err(format!(
            "[bob] asked about {asked} rather than once for the folder"
        ));
    }
    if ctx.b.download_dir.join(FOLDER).exists() {
        return Err("[bob] the folder was written before he answered".into());
    }
    ctx.save(&ctx.b, "folder-offer.png")?;
    click_in(&ctx.b, FOLDER, "transfer-accept")?;

    // Both rows count the files as they go, and end completed.
    wait_transfer(&ctx.b, "receiving", FOLDER)?;
    wait_transfer(&ctx.a, "sending", FOLDER)?;
    for p in [&ctx.a, &ctx.b] {
        let seen = saw_progress(p, files)?;
        eprintln!("[{}] the folder moving: {seen:?}", p.name);
    }
    ctx.save(&ctx.b, "folder-received.png")?;
    ctx.b.s.wait_script(
        "Bob's folder row to offer Show in folder",
        "const row = [...document.querySelectorAll(`[data-testid=transfer][data-kind=folder][data-name=\"${arguments[0]}\"]`)]\
           .find((e) => e.getClientRects().length);\
         return !!row && row.querySelector('[data-testid=transfer-show]').getClientRects().length > 0;",
        vec![json!(FOLDER)],
        SHORT,
    )?;

    // The same tree, byte for byte.
    let got_root = ctx.b.download_dir.join(FOLDER);
    for (rel, sha) in &want {
        let path = got_root.join(rel);
        let got = if rel.ends_with('/') {
            if path.is_dir() {
                "dir".to_owned()
            } else {
                String::new()
            }
        } else {
            sha256_file(&path).unwrap_or_default()
        };
        if got != *sha {
            return Err(format!("[bob] {FOLDER}/{rel}: got {got:?}, sent {sha}"));
        }
    }
    Ok(())
}
