//! Window helpers: the profile id, enabled controls, contacts and presence.

use serde_json::Value;

use crate::webdriver::{Element, Session, WdResult};
use crate::{Peer, LONG, SHORT};

pub(crate) fn my_id(p: &Peer) -> WdResult<String> {
    let v = p.s.wait_script(
        "the profile id",
        "const s = window.parleyTest && window.parleyTest.state(); return s && s.me && s.me.id;",
        vec![],
        LONG,
    )?;
    Ok(v.as_str().unwrap_or_default().to_owned())
}

pub(crate) fn js_bool(s: &Session, script: &str, el: &Element) -> WdResult<bool> {
    Ok(s.execute(script, vec![el.json()])?
        .as_bool()
        .unwrap_or(false))
}

pub(crate) fn enabled_and_visible(s: &Session, el: &Element) -> WdResult<bool> {
    Ok(s.visible(el)? && js_bool(s, "return !arguments[0].disabled;", el)?)
}

pub(crate) fn contact_sel(id: &str) -> String {
    format!("[data-testid=contact][data-peer-id=\"{id}\"]")
}

pub(crate) fn add_contact(p: &Peer, id: &str, name: &str) -> WdResult<()> {
    let s = &p.s;
    s.click(&s.wait_visible("[data-testid=add-contact]", SHORT)?)?;
    let id_input = s.wait_visible("[data-testid=add-contact-id]", SHORT)?;
    s.send_keys(&id_input, id)?;
    s.send_keys(&s.find("[data-testid=add-contact-name]")?, name)?;
    s.click(&s.find("[data-testid=add-contact-submit]")?)?;
    s.wait_for(&contact_sel(id), SHORT, |s, e| s.visible(e))?;
    s.wait_script(
        "the add-contact dialog to close",
        "const d = document.querySelector('[data-testid=add-contact-dialog]'); return !d || !d.getClientRects().length;",
        vec![],
        SHORT,
    )?;
    Ok(())
}

/// Waits until `p`'s contact list shows `id` online; on timeout says whether the
/// backend (`get_state`) knew better than the window.
pub(crate) fn wait_online(p: &Peer, id: &str) -> WdResult<()> {
    let sel = format!("{}[data-online=true]", contact_sel(id));
    let Err(e) = p.s.wait_for(&sel, LONG, |s, e| s.visible(e)) else {
        return Ok(());
    };
    let backend =
        p.s.execute(
            "return window.__TAURI__.core.invoke('get_state').then((s) => s.contacts);",
            vec![],
        )
        .unwrap_or_else(Value::String);
    let says_online = backend.as_array().into_iter().flatten().any(|c| {
        c.get("id").and_then(Value::as_str) == Some(id)
            && c.get("online").and_then(Value::as_bool) == Some(true)
    });
    Err(if says_online {
        format!(
            "{e}\n[{}] the window shows the contact offline while the backend's get_state says \
             online ({backend}): the UI missed or overwrote the presence update",
            p.name
        )
    } else {
        format!("{e}\n[{}] backend contacts: {backend}", p.name)
    })
}
