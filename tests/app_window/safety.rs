//! Safety numbers: Alice opens Bob's safety number from his contact panel and sees
//! the number `parley_proto::safety` computes for the two ids; Bob's window shows
//! the same for Alice. Alice marks Bob as verified: the dialog says so, and a
//! verified mark appears in the panel and the contact list. Alice's app is then
//! restarted on the same profile, and Bob is still marked verified. Screenshot
//! `safety-number.png`.

use parley_proto::safety::safety_number;
use parley_proto::PeerId;

use crate::contacts::{contact_sel, enabled_and_visible};
use crate::webdriver::{Session, WdResult};
use crate::{Ctx, Peer, LONG, SHORT};

/// Selects `peer`'s contact and opens the safety-number dialog; returns the number
/// it shows.
fn open_dialog(p: &Peer, peer: &str) -> WdResult<String> {
    let s = &p.s;
    s.click(&s.wait_for(
        &format!("{} [data-testid=contact-select]", contact_sel(peer)),
        SHORT,
        enabled_and_visible,
    )?)?;
    s.wait_visible(
        &format!("[data-testid=contact-panel][data-peer-id=\"{peer}\"]"),
        SHORT,
    )?;
    s.click(&s.wait_for("[data-testid=safety-button]", SHORT, enabled_and_visible)?)?;
    let number = s.wait_visible(
        "[data-testid=safety-dialog] [data-testid=safety-number]",
        SHORT,
    )?;
    Ok(s.attribute(&number, "aria-label")?.unwrap_or_default())
}

fn close_dialog(s: &Session) -> WdResult<()> {
    s.click(&s.find("[data-testid=safety-dialog] [data-testid=safety-close]")?)?;
    s.wait_script(
        "the safety-number dialog to close",
        "return !document.querySelector('[data-testid=safety-dialog]');",
        vec![],
        SHORT,
    )?;
    Ok(())
}

/// Waits until `peer` shows as verified in `p`'s contact list and panel.
fn wait_verified(p: &Peer, peer: &str) -> WdResult<()> {
    p.s.wait_visible(
        &format!(
            "{}[data-verified=true] [data-testid=contact-verified]",
            contact_sel(peer)
        ),
        SHORT,
    )?;
    p.s.wait_visible(
        &format!(
            "[data-testid=contact-panel][data-peer-id=\"{peer}\"] [data-testid=verified-badge]"
        ),
        SHORT,
    )
    .map(|_| ())
    .map_err(|e| format!("[{}] no verified mark in the panel: {e}", p.name))
}

/// See the module doc.
pub(crate) fn verify_and_restart(ctx: &mut Ctx, a_id: &str, b_id: &str) -> WdResult<()> {
    let expected = safety_number(
        &PeerId::parse(a_id).map_err(|e| e.to_string())?,
        &PeerId::parse(b_id).map_err(|e| e.to_string())?,
    );
    for (p, peer) in [(&ctx.a, b_id), (&ctx.b, a_id)] {
        let shown = open_dialog(p, peer)?;
        if shown != expected {
            return Err(format!(
                "[{}] safety number {shown:?}, expected {expected:?}",
                p.name
            ));
        }
        let status =
            p.s.find("[data-testid=safety-dialog] [data-testid=safety-status]")?;
        if p.s.attribute(&status, "data-verified")?.as_deref() != Some("false") {
            return Err(format!("[{}] a new contact shows as verified", p.name));
        }
        if p.name == "bob" {
            close_dialog(&p.s)?;
        }
    }

    // Alice marks Bob as verified.
    let a = &ctx.a.s;
    a.click(&a.find("[data-testid=safety-dialog] [data-testid=safety-verify]")?)?;
    a.wait_for(
        "[data-testid=safety-dialog] [data-testid=safety-status][data-verified=true]",
        SHORT,
        |s, e| s.visible(e),
    )?;
    ctx.save(&ctx.a, "safety-number.png")?;
    close_dialog(a)?;
    wait_verified(&ctx.a, b_id)?;

    // Restart Alice's app on the same profile: Bob is still verified.
    ctx.a.s.delete()?;
    ctx.a.s = Session::new(ctx.a.driver_port, "alice", ctx.caps.clone())?;
    ctx.a.s.wait_visible("[data-testid=contact-list]", LONG)?;
    let a = &ctx.a.s;
    a.click(&a.wait_for(
        &format!("{} [data-testid=contact-select]", contact_sel(b_id)),
        LONG,
        enabled_and_visible,
    )?)?;
    wait_verified(&ctx.a, b_id)
        .map_err(|e| format!("after a restart, Bob is no longer verified: {e}"))
}
