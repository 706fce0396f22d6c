//! A tampered call in the app: Alice signs in through a relay (a stand-in for a
//! hostile signaling server, tests/common/hostile_relay.rs) that, for this step
//! only, rewrites the DTLS fingerprint of the descriptions it hands her. Alice
//! calls Bob and he accepts; Alice's app refuses Bob's answer, and both windows say
//! that the connection was tampered with, in an error toast, and neither reaches
//! a connected call. The relay is faithful again afterwards.

use crate::common::hostile_relay::Tamper;
use crate::contacts::{contact_sel, enabled_and_visible};
use crate::webdriver::WdResult;
use crate::{Ctx, Peer, LONG};

/// The start of the English `error.tampered` text (ui/i18n/en.js).
const TAMPERED: &str = "The connection was tampered with";

/// Waits for `p`'s call to end (no call view, the call state ended or gone) and
/// an error toast that says it was tampered with; fails if it ever connected.
fn refused(p: &Peer) -> WdResult<()> {
    p.s.wait_script(
        "a toast saying the connection was tampered with",
        &format!(
            "const st = window.parleyTest.state();\
             if (st.call && st.call.state === 'connected') throw new Error('the call connected');\
             return [...document.querySelectorAll('[data-testid=toast][data-kind=error]')]\
               .some((t) => t.textContent.includes('{TAMPERED}'));"
        ),
        vec![],
        LONG,
    )
    .map_err(|e| format!("[{}] {e}", p.name))?;
    p.s.wait_script(
        "the refused call to end",
        "const cv = document.querySelector('[data-testid=call-view]');\
         const st = window.parleyTest.state();\
         return (!cv || !cv.getClientRects().length) && (!st.call || st.call.state === 'ended');",
        vec![],
        LONG,
    )
    .map(|_| ())
    .map_err(|e| format!("[{}] {e}", p.name))
}

/// See the module doc.
pub(crate) fn tampered_call_is_refused(ctx: &mut Ctx, b_id: &str) -> WdResult<()> {
    ctx.relay.set_tamper(Tamper::Fingerprint);
    let result = (|| {
        let a = &ctx.a.s;
        a.click(&a.find(&format!(
            "{} [data-testid=contact-select]",
            contact_sel(b_id)
        ))?)?;
        a.click(&a.wait_for("[data-testid=call-button]", LONG, enabled_and_visible)?)?;
        let b = &ctx.b.s;
        b.click(&b.wait_for("[data-testid=accept-call]", LONG, enabled_and_visible)?)?;
        refused(&ctx.a)?;
        ctx.save(&ctx.a, "tampered.png")?;
        refused(&ctx.b)
    })();
    ctx.relay.set_tamper(Tamper::None);
    result?;
    if ctx.relay.altered.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        return Err("the relay altered no description: nothing was tested".into());
    }
    // Nothing lingers for the next steps, which look for toasts of their own.
    for p in [&ctx.a, &ctx.b] {
        p.s.execute(
            "document.querySelectorAll('[data-testid=toast]').forEach((t) => t.remove());",
            vec![],
        )?;
    }
    Ok(())
}
