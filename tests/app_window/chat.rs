//! Chat in the call: send, wait, and the list in send order.

use std::time::Instant;

use crate::contacts::enabled_and_visible;
use crate::webdriver::{self, Element, Session, WdResult};
use crate::{Ctx, Peer, LONG, SHORT};

/// Alice and Bob each send one message; both windows list both in order.
pub(crate) fn both_ways(ctx: &Ctx) -> WdResult<()> {
    // Non-ASCII but inside the BMP: WebKitWebDriver's Element Send Keys drops
    // characters outside it (emoji).
    let (m1, m2) = (
        "Grüße, Bob — can you see me?",
        "Loud and clear, Alice! 안녕",
    );
    send_chat(&ctx.a, m1)?;
    wait_received(&ctx.b, m1)?;
    send_chat(&ctx.b, m2)?;
    wait_received(&ctx.a, m2)?;
    let want_a = vec![
        ("sent".to_owned(), m1.to_owned()),
        ("received".to_owned(), m2.to_owned()),
    ];
    let want_b = vec![
        ("received".to_owned(), m1.to_owned()),
        ("sent".to_owned(), m2.to_owned()),
    ];
    for (p, want) in [(&ctx.a, &want_a), (&ctx.b, &want_b)] {
        let start = Instant::now();
        loop {
            let got = chat_list(p)?;
            if got == *want {
                break;
            }
            if start.elapsed() > SHORT {
                return Err(format!("[{}] chat list {got:?}, want {want:?}", p.name));
            }
            std::thread::sleep(webdriver::POLL);
        }
    }
    Ok(())
}

pub(crate) fn msg_text(s: &Session, el: &Element) -> WdResult<String> {
    let v = s.execute(
        "const t = arguments[0].querySelector('.msg-text'); return t ? t.textContent : arguments[0].textContent;",
        vec![el.json()],
    )?;
    Ok(v.as_str().unwrap_or_default().to_owned())
}

pub(crate) fn send_chat(p: &Peer, text: &str) -> WdResult<()> {
    let s = &p.s;
    let input = s.wait_visible("[data-testid=chat-input]", SHORT)?;
    s.send_keys(&input, text)?;
    s.click(&s.wait_for("[data-testid=chat-send]", SHORT, enabled_and_visible)?)?;
    Ok(())
}

pub(crate) fn wait_received(p: &Peer, text: &str) -> WdResult<()> {
    p.s.wait_for(
        "[data-testid=chat-message][data-direction=received]",
        LONG,
        |s, e| Ok(msg_text(s, e)? == text),
    )
    .map(|_| ())
}

pub(crate) fn chat_list(p: &Peer) -> WdResult<Vec<(String, String)>> {
    let v = p.s.execute(
        "return [...document.querySelectorAll('[data-testid=chat-message]')].map((e) =>\
           [e.dataset.direction, (e.querySelector('.msg-text') || e).textContent]);",
        vec![],
    )?;
    Ok(v.as_array()
        .into_iter()
        .flatten()
        .map(|pair| {
            let s = |i: usize| pair[i].as_str().unwrap_or_default().to_owned();
            (s(0), s(1))
        })
        .collect())
}
