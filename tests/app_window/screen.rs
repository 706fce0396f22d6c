//! Screen share in the window: picker, indicator, the shared view at 1:1.

use crate::contacts::enabled_and_visible;
use crate::picture::png_luma;
use crate::webdriver::WdResult;
use crate::{Ctx, LONG, SHORT};

/// Alice shares her X screen from the picker; Bob sees it at its native size,
/// 1:1; Alice stops.
pub(crate) fn share_screen(ctx: &Ctx) -> WdResult<()> {
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
    a.click(&a.wait_for("[data-testid=stop-sharing]", SHORT, enabled_and_visible)?)?;
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
