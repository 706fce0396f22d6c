//! Settings: language and theme, applied at once and kept in the profile, and
//! the microphone's echo cancellation switch, kept too.

use crate::contacts::enabled_and_visible;
use crate::webdriver::WdResult;
use crate::{Peer, SHORT};

/// Waits for `p`'s settings dialog to close.
fn closed(p: &Peer) -> WdResult<()> {
    p.s.wait_script(
        "the settings dialog to close",
        "const d = document.querySelector('[data-testid=settings-dialog]'); return !d || !d.open;",
        vec![],
        SHORT,
    )
    .map(|_| ())
    .map_err(|e| format!("[{}] {e}", p.name))
}

/// Picks `language` and `theme` in `p`'s settings dialog, sets the echo
/// cancellation switch to `echo`, and saves.
fn choose(p: &Peer, language: &str, theme: &str, echo: bool) -> WdResult<()> {
    let s = &p.s;
    s.click(&s.wait_for("[data-testid=settings-button]", SHORT, enabled_and_visible)?)?;
    let dialog = s.wait_visible("[data-testid=settings-dialog]", SHORT)?;
    // Choosing an <option> the way a user's selection does: value plus `change`.
    s.execute(
        "const d = arguments[0];\
         for (const [id, v] of [['settings-language', arguments[1]], ['settings-theme', arguments[2]]]) {\
           const el = d.querySelector(`[data-testid=${id}]`); el.value = v;\
           el.dispatchEvent(new Event('change', { bubbles: true })); }\
         const echo = d.querySelector('[data-testid=setting-echo-cancellation]');\
         if (echo.checked !== arguments[3]) echo.click();",
        vec![dialog.json(), language.into(), theme.into(), echo.into()],
    )?;
    s.click(&s.find("[data-testid=settings-save]")?)?;
    closed(p)
}

/// Bob switches to Korean and the dark theme: the window's text and colours
/// change at once and the profile keeps the choice, and his echo cancellation
/// switched off; then back to English, the system theme and echo cancellation
/// on.
pub(crate) fn language_and_theme(p: &Peer) -> WdResult<()> {
    choose(p, "ko", "dark", false)?;
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
        "return window.__TAURI__.core.invoke('get_state').then((st) => st.settings.language + '/'\
           + st.settings.theme + '/' + st.settings.echoCancellation);",
        vec![],
    )?;
    if kept.as_str() != Some("ko/dark/false") {
        return Err(format!(
            "[{}] the profile keeps {kept}, not ko/dark/false (echo cancellation off)",
            p.name
        ));
    }
    choose(p, "en", "system", true)?;
    p.s.wait_script(
        "English text again",
        "return document.documentElement.lang === 'en' && !document.documentElement.dataset.theme;",
        vec![],
        SHORT,
    )
    .map(|_| ())
    .map_err(|e| format!("[{}] {e}", p.name))
}

/// Bob checks his connection in the settings: the report shows the server signed
/// in, and, since this server hands out no STUN or TURN server, that nothing was
/// tested, no path across the internet, and the advice to add servers.
pub(crate) fn connection_check(p: &Peer) -> WdResult<()> {
    let s = &p.s;
    s.click(&s.wait_for("[data-testid=settings-button]", SHORT, enabled_and_visible)?)?;
    s.click(&s.wait_for(
        "[data-testid=settings-check-connection]",
        SHORT,
        enabled_and_visible,
    )?)?;
    let shown = s
        .wait_script(
            "the connection report",
            "const r = document.querySelector('[data-testid=connection-report]');\
             if (!r || !['usable', 'unusable', 'error'].includes(r.dataset.state)) return null;\
             const row = (id) => { const e = r.querySelector(`[data-testid=${id}]`);\
               return e ? { ok: e.dataset.ok, text: e.innerText } : null; };\
             return { state: r.dataset.state, server: row('conn-server'), nat: row('conn-nat'),\
               paths: row('conn-paths'),\
               advice: [...r.querySelectorAll('[data-testid=conn-advice]')].map((a) => a.innerText) };",
            vec![],
            SHORT,
        )
        .map_err(|e| format!("[{}] {e}", p.name))?;
    let fail = |what: &str| Err(format!("[{}] {what}: {shown}", p.name));
    if shown["state"] != "unusable" {
        return fail("the report should say no path works without STUN/TURN");
    }
    let server = shown["server"]["text"].as_str().unwrap_or("");
    if shown["server"]["ok"] != "true" || !server.contains("signed in") || !server.contains(" ms") {
        return fail("the server row should say signed in, with its time");
    }
    if !shown["nat"]["text"]
        .as_str()
        .unwrap_or("")
        .contains("no STUN or TURN server")
    {
        return fail("the NAT row should say it was not tested");
    }
    if shown["paths"]["ok"] != "false"
        || !shown["paths"]["text"]
            .as_str()
            .unwrap_or("")
            .contains("nothing across the internet")
    {
        return fail("the paths row should say no call can cross the internet");
    }
    if !shown["advice"].to_string().contains("--stun-url") {
        return fail("the advice should say how to add STUN/TURN servers");
    }
    s.click(&s.find("[data-testid=settings-cancel]")?)?;
    closed(p)
}
