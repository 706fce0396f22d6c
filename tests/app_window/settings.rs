//! Settings: language and theme, applied at once and kept in the profile.

use crate::contacts::enabled_and_visible;
use crate::webdriver::WdResult;
use crate::{Peer, SHORT};

/// Picks `language` and `theme` in `p`'s settings dialog and saves.
fn choose(p: &Peer, language: &str, theme: &str) -> WdResult<()> {
    let s = &p.s;
    s.click(&s.wait_for("[data-testid=settings-button]", SHORT, enabled_and_visible)?)?;
    let dialog = s.wait_visible("[data-testid=settings-dialog]", SHORT)?;
    // Choosing an <option> the way a user's selection does: value plus `change`.
    s.execute(
        "const d = arguments[0];\
         for (const [id, v] of [['settings-language', arguments[1]], ['settings-theme', arguments[2]]]) {\
           const el = d.querySelector(`[data-testid=${id}]`); el.value = v;\
           el.dispatchEvent(new Event('change', { bubbles: true })); }",
        vec![dialog.json(), language.into(), theme.into()],
    )?;
    s.click(&s.find("[data-testid=settings-save]")?)?;
    s.wait_script(
        "the settings dialog to close",
        "const d = document.querySelector('[data-testid=settings-dialog]'); return !d || !d.open;",
        vec![],
        SHORT,
    )
    .map(|_| ())
    .map_err(|e| format!("[{}] {e}", p.name))
}

/// Bob switches to Korean and the dark theme: the window's text and colours
/// change at once and the profile keeps the choice; then back to English and
/// the system theme.
pub(crate) fn language_and_theme(p: &Peer) -> WdResult<()> {
    choose(p, "ko", "dark")?;
    p.s.wait_script(
        "Korean text and the dark theme",
        "const root = document.documentElement;\
         const title = [...document.querySelectorAll('.section-title')].map((e) => e.textContent);\
         return root.lang === 'ko' && root.dataset.theme === 'dark' && title.includes('연락처')\
           && getComputedStyle(document.body).backgroundColor !== 'rgb(255, 255, 255)';",
        vec![],
        SHORT,
    )
    .map_err(|e| format!("[{}] {e}", p.name))?;
    let kept = p.s.execute(
        "return window.__TAURI__.core.invoke('get_state').then((st) => st.settings.language + '/' + st.settings.theme);",
        vec![],
    )?;
    if kept.as_str() != Some("ko/dark") {
        return Err(format!(
            "[{}] the profile keeps {kept}, not ko/dark",
            p.name
        ));
    }
    choose(p, "en", "system")?;
    p.s.wait_script(
        "English text again",
        "return document.documentElement.lang === 'en' && !document.documentElement.dataset.theme;",
        vec![],
        SHORT,
    )
    .map(|_| ())
    .map_err(|e| format!("[{}] {e}", p.name))
}
