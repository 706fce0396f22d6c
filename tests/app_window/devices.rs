//! Device switching in a call: Alice picks another camera from the call's device
//! menu and Bob's view follows without a new call; a camera that is gone by the
//! time it is picked is reported in her window, not silently replaced.

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

/// Alice picks a camera that was unplugged after the menu listed it: her window
/// shows an error naming it and what is used instead (the file-backed camera),
/// Bob's view returns to the clip's 320x180, and the call stays connected.
pub(crate) fn camera_gone(ctx: &Ctx) -> WdResult<()> {
    let a = &ctx.a.s;
    a.execute(
        "window.__TAURI__.core.invoke('switch_device', { kind: 'camera', name: 'Gone Camera 3000' })\
           .catch((e) => console.warn(e));",
        vec![],
    )?;
    let toast = a
        .wait_for("[data-testid=toast][data-kind=error]", SHORT, |s, e| {
            Ok(s.text_content(e)?.contains("Gone Camera 3000"))
        })
        .map_err(|e| format!("[alice] no error for the missing camera: {e}"))?;
    let text = a.text_content(&toast)?;
    if !text.contains("not connected") || !text.contains("(file)") {
        return Err(format!(
            "[alice] the camera error does not say what happened: {text:?}"
        ));
    }
    eprintln!("Alice's camera error: {text:?}");
    ctx.b
        .s
        .wait_script(
            "Bob's view back at the clip's 320x180",
            "const v = window.parleyTest.video().remote;\
             return !!v.size && v.size.width === 320 && v.size.height === 180;",
            vec![],
            LONG,
        )
        .map_err(|e| format!("[bob] {e}"))?;
    for p in [&ctx.a, &ctx.b] {
        p.s.wait_visible("[data-testid=call-view][data-state=connected]", SHORT)?;
    }
    Ok(())
}
