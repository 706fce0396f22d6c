//! Invite links: the OS opens `parley://add/<id>` by starting `parley <link>`.
//! With Bob's app already running on that profile, the new process hands the link
//! to it and exits; Bob's window opens the add-contact dialog with the id filled
//! in, he names the contact and it is listed. A link that is not an invite is
//! shown as an error, and nothing is added. Then Bob renames the new contact and
//! removes it through its menu, and the backend's contact list follows. The id
//! begins with '-'.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use parley_proto::PeerId;

use crate::contacts::{contact_sel, enabled_and_visible};
use crate::webdriver::{self, WdResult};
use crate::{Ctx, Peer, SHORT};

/// How long the second start may take to hand over and exit.
const HANDOVER: Duration = Duration::from_secs(20);

/// Starts `parley <link>` with `p`'s environment and waits for it to exit.
fn open_link(ctx: &Ctx, p: &Peer, link: &str) -> WdResult<()> {
    let mut child = Command::new(&ctx.app)
        .arg(link)
        .envs(p.env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("start {}: {e}", ctx.app.display()))?;
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return if status.success() {
                Ok(())
            } else {
                Err(format!("[{}] `parley {link}` exited with {status}", p.name))
            };
        }
        if start.elapsed() > HANDOVER {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "[{}] `parley {link}` did not hand the link to the running app (still running after {HANDOVER:?})",
                p.name
            ));
        }
        std::thread::sleep(webdriver::POLL);
    }
}

/// See the module doc.
pub(crate) fn invite_link(ctx: &Ctx) -> WdResult<()> {
    let b = &ctx.b;
    // An id that begins with '-' (1 in 64 do), which a command line or a careless
    // parser would take for an option.
    let carol = (0..=u8::MAX)
        .map(|seed| PeerId::from_public_key(&SigningKey::from_bytes(&[seed; 32]).verifying_key()))
        .find(|id| id.as_str().starts_with('-'))
        .expect("one of 256 ids begins with '-'");
    open_link(ctx, b, &carol.invite_link())?;
    let input = b.s.wait_visible(
        "[data-testid=add-contact-dialog] [data-testid=add-contact-id]",
        SHORT,
    )?;
    let filled =
        b.s.execute("return arguments[0].value;", vec![input.json()])?;
    if filled.as_str() != Some(carol.as_str()) {
        return Err(format!(
            "[bob] the dialog holds {filled}, the link named {carol}"
        ));
    }
    b.s.send_keys(&b.s.find("[data-testid=add-contact-name]")?, "Carol")?;
    b.s.click(&b.s.wait_for(
        "[data-testid=add-contact-submit]",
        SHORT,
        enabled_and_visible,
    )?)?;
    b.s.wait_for(&contact_sel(carol.as_str()), SHORT, |s, e| {
        Ok(s.visible(e)? && s.text_content(e)?.contains("Carol"))
    })?;
    rename_then_remove(b, carol.as_str())?;

    open_link(ctx, b, "parley://add/not-an-id")?;
    b.s.wait_for("[data-testid=toast][data-kind=error]", SHORT, |s, e| {
        Ok(s.text_content(e)?.contains("parley://add/not-an-id"))
    })
    .map_err(|e| format!("[bob] no error for a bad invite link: {e}"))?;
    let dialogs = b.s.find_all("[data-testid=add-contact-dialog]")?;
    for d in dialogs {
        if b.s.visible(&d)? {
            return Err("[bob] a bad invite link opened the add-contact dialog".into());
        }
    }
    Ok(())
}

/// Renames `id` to "Carol K." and removes it, through the contact's menu.
fn rename_then_remove(p: &Peer, id: &str) -> WdResult<()> {
    let s = &p.s;
    let menu = |item: &str| -> WdResult<()> {
        s.click(&s.find(&format!("{} [data-testid=contact-menu]", contact_sel(id)))?)?;
        s.click(&s.wait_for(&format!("[data-testid={item}]"), SHORT, enabled_and_visible)?)
    };
    menu("contact-rename")?;
    let input = s.wait_visible("[data-testid=rename-dialog-input]", SHORT)?;
    s.execute("arguments[0].value = '';", vec![input.json()])?;
    s.send_keys(&input, "Carol K.")?;
    s.click(&s.find("[data-testid=rename-dialog-submit]")?)?;
    s.wait_for(&contact_sel(id), SHORT, |s, e| {
        Ok(s.text_content(e)?.contains("Carol K."))
    })
    .map_err(|e| format!("[{}] the rename did not show: {e}", p.name))?;

    menu("contact-remove")?;
    s.click(&s.wait_for("[data-testid=confirm-ok]", SHORT, enabled_and_visible)?)?;
    s.wait_script(
        "the removed contact to leave the list and the profile",
        &format!(
            "if (document.querySelector('[data-testid=contact][data-peer-id=\\'{id}\\']')) return false;\
             return window.__TAURI__.core.invoke('get_state').then((st) => !st.contacts.some((c) => c.id === '{id}'));"
        ),
        vec![],
        SHORT,
    )
    .map_err(|e| format!("[{}] {e}", p.name))?;
    Ok(())
}
