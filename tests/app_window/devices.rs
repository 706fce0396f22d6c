//! Device switching in a call: Alice picks another camera from the call's device
//! menu and Bob's view follows without a new call.

use crate::contacts::enabled_and_visible;
use crate::webdriver::WdResult;
use crate::{Ctx, LONG, SHORT};

/// Alice switches from the file-backed camera (320x180 clip) to the test pattern
/// (640x360) in the device menu; Bob's remote view draws 640x360 frames, Alice's
/// preview too, and the call stays connected.
pub(crate) fn switch_camera(ctx: &Ctx) -> WdResult<()> {
    let a = &ctx.a.s;
    a.click(&a.wait_for("[data-testid=devices]", SHORT, enabled_and_visible)?)?;
    a.wait_visible("[data-testid=device-menu]", SHORT)?;
    let pattern = a.wait_for("[data-testid=device-camera]", SHORT, |s, e| {
        Ok(s.visible(e)? && s.text_content(e)?.trim() == "Test pattern")
    })?;
    let clip = a.find_all("[data-testid=device-camera]")?;
    let mut names = Vec::new();
    for e in &clip {
        names.push(a.text_content(e)?.trim().to_owned());
    }
    if !names.iter().any(|n| n.ends_with("(file)")) {
        return Err(format!(
            "[alice] the device menu does not list the file-backed camera: {names:?}"
        ));
    }
    a.click(&pattern)?;
    for (p, view) in [(&ctx.b, "remote"), (&ctx.a, "local")] {
        p.s.wait_script(
            &format!("{view} video drawn at the test pattern's 640x360"),
            &format!(
                "const v = window.parleyTest.video().{view};\
                 return !!v.size && v.size.width === 640 && v.size.height === 360;"
            ),
            vec![],
            LONG,
        )
        .map_err(|e| format!("[{}] {e}", p.name))?;
    }
    for p in [&ctx.a, &ctx.b] {
        p.s.wait_visible("[data-testid=call-view][data-state=connected]", SHORT)?;
    }
    Ok(())
}
