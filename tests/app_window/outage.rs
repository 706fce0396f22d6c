//! A media outage mid-call: every UDP packet of Alice's app is dropped for a while
//! (iptables on her loopback address), both windows say "Reconnecting…" over the
//! frozen picture, and once the path is back the call carries on by itself.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::webdriver::WdResult;
use crate::{Ctx, LONG};

/// Alice's app binds its calls' UDP sockets here (`PARLEY_UDP_BIND`), so a rule on
/// this address cuts her media and nothing else on the machine.
pub(crate) const ALICE_UDP_IP: &str = "127.0.0.2";
/// Bob's, on another loopback address (both ends of every candidate pair are then
/// loopback addresses that need no interface).
pub(crate) const BOB_UDP_IP: &str = "127.0.0.3";
/// How long the cut is held after both windows said "Reconnecting…".
const HOLD: Duration = Duration::from_secs(3);

/// iptables rules that drop UDP to and from one address in the INPUT chain (which
/// loopback traffic passes once; dropped there, packets vanish as on a dead
/// network, where OUTPUT would fail the sender's writes); removed on drop.
struct UdpCut {
    rules: Vec<Vec<String>>,
}

impl UdpCut {
    fn start(ip: &str) -> WdResult<Self> {
        // A run killed mid-outage (no unwinding) left its rules: they go first.
        let comment = "parley-app-window-outage".to_owned();
        let rules: Vec<Vec<String>> = ["-s", "-d"]
            .iter()
            .map(|dir| {
                [
                    "INPUT",
                    "-p",
                    "udp",
                    dir,
                    ip,
                    "-m",
                    "comment",
                    "--comment",
                    &comment,
                    "-j",
                    "DROP",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect()
            })
            .collect();
        for rule in &rules {
            while iptables("-D", rule).is_ok() {}
        }
        let mut cut = Self { rules: Vec::new() };
        for rule in rules {
            iptables("-I", &rule)?;
            cut.rules.push(rule);
        }
        Ok(cut)
    }
}

impl Drop for UdpCut {
    fn drop(&mut self) {
        for rule in self.rules.drain(..) {
            if let Err(e) = iptables("-D", &rule) {
                eprintln!("cannot remove the outage rule: {e}");
            }
        }
    }
}

fn iptables(op: &str, rule: &[String]) -> WdResult<()> {
    let out = Command::new("iptables")
        .args(["-w", op])
        .args(rule)
        .output()
        .map_err(|e| format!("iptables: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "iptables {op} {}: {}",
            rule.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// The route row of the stats overlay ("local → remote").
fn route(s: &crate::webdriver::Session) -> WdResult<String> {
    let v = s.execute(
        "const r = document.querySelector('[data-testid=stats-route]'); return r ? r.textContent : '';",
        vec![],
    )?;
    Ok(v.as_str().unwrap_or_default().to_owned())
}

fn remote_frames(s: &crate::webdriver::Session) -> WdResult<u64> {
    Ok(
        s.execute("return window.parleyTest.video().remote.frames;", vec![])?
            .as_u64()
            .unwrap_or(0),
    )
}

/// Cuts Alice's UDP until both windows show the "Reconnecting…" banner and status
/// (and Bob's remote picture has stopped), holds the cut [`HOLD`] longer, restores
/// it, and waits for both windows to drop the banner and draw new remote frames
/// while the call view stays connected, and Alice's stats overlay shows the new
/// route (the restart rebound her sockets). Returns a line with the timings.
///
/// Needs root for iptables; without it the step is skipped with a printed line.
pub(crate) fn media_outage(ctx: &Ctx) -> WdResult<String> {
    if !crate::common::netns::available("app_window media outage") {
        return Ok("media outage: skipped (needs root and iptables)".into());
    }
    // Alice's stats overlay is open: the route of the call before the cut.
    let route_before = route(&ctx.a.s)?;
    if !route_before.starts_with(&format!("{ALICE_UDP_IP}:")) {
        return Err(format!(
            "[alice] the stats overlay shows the route {route_before:?}, not one from {ALICE_UDP_IP}"
        ));
    }
    let cut_at = Instant::now();
    let cut = UdpCut::start(ALICE_UDP_IP)?;
    for p in [&ctx.a, &ctx.b] {
        p.s.wait_script(
            "the Reconnecting… banner and status",
            "const v = document.querySelector('[data-testid=call-view]');\
             const b = document.querySelector('[data-testid=call-reconnecting]');\
             const st = document.querySelector('[data-testid=call-status]');\
             return !!v && v.dataset.reconnecting === 'true' && v.dataset.state === 'connected'\
               && !!b && !b.hidden && b.getClientRects().length > 0 && /Reconnecting/.test(b.textContent)\
               && !!st && /Reconnecting/.test(st.textContent);",
            vec![],
            LONG,
        )
        .map_err(|e| format!("[{}] during the outage: {e}", p.name))?;
    }
    let noticed = cut_at.elapsed();
    ctx.save(&ctx.b, "reconnecting.png")?;
    let frozen = remote_frames(&ctx.b.s)?;
    std::thread::sleep(HOLD);
    let still = remote_frames(&ctx.b.s)?;
    if still > frozen + 1 {
        return Err(format!(
            "[bob] {} remote frames drawn while Alice's UDP was cut: the cut did not cut",
            still - frozen
        ));
    }
    drop(cut);
    let restored_at = Instant::now();
    let before = [remote_frames(&ctx.a.s)?, remote_frames(&ctx.b.s)?];
    let mut back = Vec::new();
    for (p, before) in [&ctx.a, &ctx.b].into_iter().zip(before) {
        p.s.wait_script(
            "the call to come back by itself (banner gone, new remote frames)",
            "const v = document.querySelector('[data-testid=call-view]');\
             const b = document.querySelector('[data-testid=call-reconnecting]');\
             const st = window.parleyTest.state();\
             return !!v && v.dataset.state === 'connected' && v.dataset.reconnecting === 'false'\
               && !!b && b.hidden && !!st.call && !st.call.reconnecting\
               && window.parleyTest.video().remote.frames > arguments[0] + 5;",
            vec![serde_json::json!(before)],
            LONG,
        )
        .map_err(|e| format!("[{}] after the outage: {e}", p.name))?;
        back.push(restored_at.elapsed());
    }
    // The restart rebound Alice's sockets: the overlay shows the new route.
    let a = &ctx.a.s;
    a.wait_script(
        "the stats overlay to show the new route",
        "const r = document.querySelector('[data-testid=stats-route]');\
         return !!r && r.textContent.startsWith(arguments[1]) && r.textContent !== arguments[0];",
        vec![
            serde_json::json!(route_before),
            serde_json::json!(format!("{ALICE_UDP_IP}:")),
        ],
        LONG,
    )
    .map_err(|e| format!("[alice] was {route_before:?}: {e}"))?;
    let route_after = route(a)?;
    Ok(format!(
        "media outage: both windows said Reconnecting… {:.1} s after the cut; cut held {:.1} s; \
         video back {:.1} s (alice) and {:.1} s (bob) after the path returned; \
         route {route_before} before, {route_after} after",
        noticed.as_secs_f64(),
        restored_at.duration_since(cut_at).as_secs_f64(),
        back[0].as_secs_f64(),
        back[1].as_secs_f64()
    ))
}
