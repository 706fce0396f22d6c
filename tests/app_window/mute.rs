//! Mute and camera off through the keyboard shortcuts, as the peer sees them.

use crate::contacts::enabled_and_visible;
use crate::webdriver::WdResult;
use crate::{Ctx, LONG, SHORT};

/// Alice presses M and V (sent to a call control, so the window's shortcut handler
/// gets real key events): her Mute and Camera buttons show it; Bob's window says
/// "Alice is muted" and shows her camera-off placeholder instead of black frames.
/// M and V again: the badge and the placeholder go, Bob's view draws frames again.
pub(crate) fn mute_and_camera_by_keyboard(ctx: &Ctx) -> WdResult<()> {
    let (a, b) = (&ctx.a.s, &ctx.b.s);
    let key = |k: &str| -> WdResult<()> {
        let target = a.wait_for("[data-testid=shortcuts-button]", SHORT, enabled_and_visible)?;
        a.send_keys(&target, k)
    };
    key("m")?;
    a.wait_visible("[data-testid=mute][data-muted=true]", SHORT)
        .map_err(|e| format!("[alice] M did not mute: {e}"))?;
    b.wait_for("[data-testid=remote-muted-audio]", LONG, |s, e| {
        Ok(s.visible(e)? && s.text_content(e)?.contains("Alice"))
    })
    .map_err(|e| format!("[bob] no muted badge for Alice: {e}"))?;

    key("v")?;
    a.wait_visible("[data-testid=camera][data-muted=true]", SHORT)
        .map_err(|e| format!("[alice] V did not turn the camera off: {e}"))?;
    b.wait_for(
        "[data-remote-camera-off=true] .video-caption",
        LONG,
        |s, e| Ok(s.visible(e)? && s.text_content(e)?.contains("Alice")),
    )
    .map_err(|e| format!("[bob] no camera-off placeholder for Alice: {e}"))?;
    ctx.save(&ctx.b, "remote-muted.png")?;

    key("m")?;
    key("v")?;
    a.wait_visible("[data-testid=mute][data-muted=false]", SHORT)?;
    a.wait_visible("[data-testid=camera][data-muted=false]", SHORT)?;
    b.wait_script(
        "Alice's badge and placeholder to go",
        "const badge = document.querySelector('[data-testid=remote-muted-audio]');\
         const off = document.querySelector('[data-remote-camera-off=true]');\
         return !!badge && badge.hidden && !off;",
        vec![],
        LONG,
    )
    .map_err(|e| format!("[bob] {e}"))?;
    let before = b
        .execute("return window.parleyTest.video().remote.frames;", vec![])?
        .as_u64()
        .unwrap_or(0);
    b.wait_script(
        "Bob's view to draw Alice's frames again",
        &format!("return window.parleyTest.video().remote.frames > {before} + 3;"),
        vec![],
        LONG,
    )
    .map_err(|e| format!("[bob] {e}"))?;
    Ok(())
}
