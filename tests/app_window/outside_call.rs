//! Chat and a file with no call: after hanging up, both windows show each other's
//! contact panel; chat goes both ways there and a file offered through the drop
//! path is answered in Bob's panel and arrives with the same hash. Nothing rings:
//! no incoming-call screen, no call view, no call in the state.

use std::path::Path;

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::chat::{send_chat, wait_received};
use crate::files::{click_in, offer, sha256_file, wait_state, wait_transfer};
use crate::webdriver::WdResult;
use crate::{Ctx, Peer, SHORT};

/// Fails when `p`'s window shows anything of a call.
fn no_call(p: &Peer) -> WdResult<()> {
    let shown = p.s.execute(
        "const vis = (t) => [...document.querySelectorAll(`[data-testid=${t}]`)].some((e) => e.getClientRects().length);\
         const st = window.parleyTest.state();\
         return JSON.stringify({ incoming: vis('incoming-call'), callView: vis('call-view'),\
           call: st.call && st.call.state !== 'ended' ? st.call.state : null });",
        vec![],
    )?;
    let shown = shown.as_str().unwrap_or_default();
    if shown != r#"{"incoming":false,"callView":false,"call":null}"# {
        return Err(format!(
            "[{}] chat outside a call shows a call: {shown}",
            p.name
        ));
    }
    Ok(())
}

/// Alice and Bob chat in their contact panels, then Alice sends Bob a file he
/// accepts there; see the module doc.
pub(crate) fn chat_and_file(ctx: &Ctx, scratch: &Path, b_id: &str) -> WdResult<()> {
    for p in [&ctx.a, &ctx.b] {
        p.s.wait_visible(
            "[data-testid=contact-panel] [data-testid=chat-input]",
            SHORT,
        )?;
    }
    let (m1, m2) = ("Still there? No call now.", "Yes, this is plain chat.");
    send_chat(&ctx.a, m1)?;
    wait_received(&ctx.b, m1)?;
    no_call(&ctx.b)?;
    send_chat(&ctx.b, m2)?;
    wait_received(&ctx.a, m2)?;
    no_call(&ctx.a)?;

    let name = "after-the-call.bin";
    let file = scratch.join(name);
    let mut data = vec![0u8; 768 * 1024];
    rand::thread_rng().fill_bytes(&mut data);
    std::fs::write(&file, &data).unwrap();
    let want = hex::encode(Sha256::digest(&data));
    offer(ctx, b_id, &file)?;
    wait_state(&ctx.b, "receiving", name, "offered")?;
    click_in(&ctx.b, name, "transfer-accept")?;
    wait_transfer(&ctx.b, "receiving", name)?;
    wait_transfer(&ctx.a, "sending", name)?;
    let got =
        sha256_file(&ctx.b.download_dir.join(name)).map_err(|e| format!("[bob] {name}: {e}"))?;
    if got != want {
        return Err(format!("[bob] {name} has SHA-256 {got}, sent {want}"));
    }
    for p in [&ctx.a, &ctx.b] {
        no_call(p)?;
    }
    Ok(())
}
