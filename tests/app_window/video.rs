//! The remote video as drawn: geometry, motion between screenshots, resemblance to
//! the source clip; the draw rate (requestAnimationFrame, frames received vs drawn).

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::picture::{correlation, downscale_masked, letterbox, png_luma, Luma, Rect};
use crate::webdriver::{Session, WdResult};
use crate::{Ctx, Peer, GRID, MIN_CORRELATION, MIN_MOTION};

/// Where the remote video sits in an element screenshot of `remote-video`, and
/// what covers it; plus the view's counters.
pub(crate) struct VideoGeometry {
    area: Rect,
    mask: Vec<Rect>,
    frames: u64,
    info: Value,
}

pub(crate) fn video_geometry(s: &Session, shot: &Luma) -> WdResult<VideoGeometry> {
    let v = s.execute(
        "const c = document.querySelector('[data-testid=remote-video]'); const r = c.getBoundingClientRect();\
         const v = window.parleyTest.video().remote;\
         const masks = [...document.querySelectorAll('.pip, [data-testid=stats-overlay], .toast, .shortcut-pop, .ring-panel')]\
           .filter((e) => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')\
           .map((e) => { const m = e.getBoundingClientRect(); return [m.left - r.left, m.top - r.top, m.width, m.height]; });\
         return { cw: c.width, ch: c.height, cssW: r.width, cssH: r.height, frames: v.frames, received: v.received, fps: v.fps,\
                  renderer: v.renderer, size: v.size, masks };",
        vec![],
    )?;
    let f = |k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    let (cw, ch, css_w) = (f("cw"), f("ch"), f("cssW"));
    let size = v.get("size").filter(|s| !s.is_null()).ok_or_else(|| {
        format!(
            "[{}] parleyTest.video().remote.size is null: nothing drawn ({v})",
            s.label
        )
    })?;
    let fw = size.get("width").and_then(Value::as_f64).unwrap_or(0.0);
    let fh = size.get("height").and_then(Value::as_f64).unwrap_or(0.0);
    if cw < 1.0 || ch < 1.0 || fw < 1.0 || fh < 1.0 || css_w < 1.0 {
        return Err(format!("[{}] unusable video geometry {v}", s.label));
    }
    // Canvas pixels → screenshot pixels; CSS pixels → screenshot pixels.
    let k = shot.w as f64 / cw;
    let kc = shot.w as f64 / css_w;
    let lb = letterbox(cw, ch, fw, fh);
    let area = Rect {
        x: lb.x * k,
        y: lb.y * k,
        w: lb.w * k,
        h: lb.h * k,
    };
    let mask = v
        .get("masks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| {
            let m: Vec<f64> = m.as_array()?.iter().filter_map(Value::as_f64).collect();
            Some(Rect {
                x: m[0] * kc,
                y: m[1] * kc,
                w: m[2] * kc,
                h: m[3] * kc,
            })
        })
        .collect();
    Ok(VideoGeometry {
        area,
        mask,
        frames: f("frames") as u64,
        info: v,
    })
}

/// Mean absolute difference inside `area` outside `mask`.
pub(crate) fn motion(a: &Luma, b: &Luma, area: Rect, mask: &[Rect]) -> Option<f64> {
    if a.w != b.w || a.h != b.h {
        return None;
    }
    let (mut sum, mut n) = (0.0f64, 0usize);
    let (y0, y1) = (area.y.max(0.0) as u32, ((area.y + area.h) as u32).min(a.h));
    let (x0, x1) = (area.x.max(0.0) as u32, ((area.x + area.w) as u32).min(a.w));
    for y in y0..y1 {
        for x in x0..x1 {
            let (cx, cy) = (x as f64 + 0.5, y as f64 + 0.5);
            if mask.iter().any(|m| m.contains(cx, cy)) {
                continue;
            }
            let i = (y * a.w + x) as usize;
            sum += (a.px[i] - b.px[i]).abs() as f64;
            n += 1;
        }
    }
    if n == 0 {
        return None;
    }
    Some(sum / n as f64)
}

/// Best correlation of the shot's video area with any source frame, its index, and
/// the median over all frames (how discriminating the best one is).
pub(crate) fn best_match(ctx: &Ctx, shot: &Luma, g: &VideoGeometry) -> (f64, usize, f64) {
    let grid = downscale_masked(shot, g.area, &g.mask, GRID.0, GRID.1);
    let mut all: Vec<(f64, usize)> = ctx
        .source
        .iter()
        .enumerate()
        .map(|(i, src)| (correlation(&grid, src), i))
        .collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    let median = all.get(all.len() / 2).map_or(0.0, |x| x.0);
    all.first().map_or((0.0, 0, 0.0), |&(c, i)| (c, i, median))
}

/// Two element screenshots ~1 s apart: moving, counting up, resembling the clip.
pub(crate) fn check_remote_video(ctx: &Ctx, p: &Peer) -> WdResult<String> {
    let s = &p.s;
    let canvas = s.find("[data-testid=remote-video]")?;
    let shot1 = png_luma(&s.element_screenshot(&canvas)?)?;
    let g1 = video_geometry(s, &shot1)?;
    // Up to three more shots 1 s apart: a still moment of the clip must not fail
    // the test, a frozen picture (identical redraws, difference ~0) still does.
    let mut tries = 0;
    let (png2, shot2, g2, diff) = loop {
        tries += 1;
        std::thread::sleep(Duration::from_millis(1000));
        let png2 = s.element_screenshot(&canvas)?;
        let shot2 = png_luma(&png2)?;
        let g2 = video_geometry(s, &shot2)?;
        let mut mask = g1.mask.clone();
        mask.extend(g2.mask.iter().copied());
        let diff = motion(&shot1, &shot2, g2.area, &mask).ok_or_else(|| {
            format!(
                "[{}] remote-video screenshots differ in size ({}x{} vs {}x{}) or the video area is empty",
                p.name, shot1.w, shot1.h, shot2.w, shot2.h
            )
        })?;
        if diff >= MIN_MOTION || tries == 3 {
            break (png2, shot2, g2, diff);
        }
    };
    let (c1, i1, med1) = best_match(ctx, &shot1, &g1);
    let (c2, i2, med2) = best_match(ctx, &shot2, &g2);
    let summary = format!(
        "{}: motion {diff:.2} levels after {tries} s, frames {} → {}, best correlation {c1:.3} (source frame {i1}, \
         median over frames {med1:.3}) / {c2:.3} (frame {i2}, median {med2:.3}), view {}",
        p.name, g1.frames, g2.frames, g2.info
    );
    let problem = if g2.frames <= g1.frames {
        Some("remote frames are not counting up".to_owned())
    } else if diff < MIN_MOTION {
        Some("the remote video does not move".to_owned())
    } else if c1.max(c2) < MIN_CORRELATION {
        Some(format!(
            "the remote video does not resemble the source clip (need ≥ {MIN_CORRELATION})"
        ))
    } else {
        None
    };
    if let Some(problem) = problem {
        // The element screenshot, for a look at what was compared.
        let path = ctx
            .shots
            .join(format!("failure-remote-video-{}.png", p.name));
        let _ = std::fs::write(&path, &png2);
        return Err(format!(
            "[{}] {problem}: {summary}; remote-video screenshot {}",
            p.name,
            path.display()
        ));
    }
    Ok(summary)
}

/// `requestAnimationFrame` callbacks in one second in `p`'s window (the ceiling
/// of the UI's draw rate: each callback draws the newest frame).
pub(crate) fn raf_rate(p: &Peer) -> WdResult<u64> {
    let n = p.s.execute(
        "return new Promise((done) => { let n = 0; const t0 = performance.now();\
           const tick = () => { n++; if (performance.now() - t0 < 1000) requestAnimationFrame(tick); else done(n); };\
           requestAnimationFrame(tick); });",
        vec![],
    )?;
    Ok(n.as_u64().unwrap_or(0))
}

/// Bob's window alone (Alice's closed) in a call from a headless `parley-cli`
/// sending the 15 frames/s clip: frames received and drawn per second over 3 s,
/// and the `requestAnimationFrame` rate. A measurement for BENCHMARKS.md (printed;
/// the call itself must connect and draw frames).
pub(crate) fn one_window_draw_rate(
    ctx: &mut Ctx,
    scratch: &std::path::Path,
    b_id: &str,
) -> WdResult<String> {
    ctx.a.s.delete()?;
    let mut caller = std::process::Command::new(crate::common::bin("parley-cli"))
        .args(["--profile"])
        .arg(scratch.join("carl"))
        .args([
            "--server",
            &ctx.server_url,
            "call",
            b_id,
            "--duration",
            "10",
            "--video-file",
        ])
        .arg(crate::common::media("chrome-320x180-15fps.y4m"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("start parley-cli: {e}"))?;
    let result = (|| {
        let b = &ctx.b.s;
        b.click(&b.wait_for(
            "[data-testid=accept-call]",
            crate::LONG,
            crate::contacts::enabled_and_visible,
        )?)?;
        b.wait_visible("[data-testid=call-view][data-state=connected]", crate::LONG)?;
        b.wait_script(
            "frames from the headless caller drawn",
            "const v = window.parleyTest.video(); return v.remote.frames > 5;",
            vec![],
            crate::LONG,
        )?;
        let sample = || -> WdResult<(f64, f64)> {
            let v = b.execute(
                "const v = window.parleyTest.video().remote; return [v.received, v.frames];",
                vec![],
            )?;
            Ok((v[0].as_f64().unwrap_or(0.0), v[1].as_f64().unwrap_or(0.0)))
        };
        let (r1, d1) = sample()?;
        let t = Instant::now();
        std::thread::sleep(Duration::from_secs(3));
        let (r2, d2) = sample()?;
        let secs = t.elapsed().as_secs_f64();
        let raf = raf_rate(&ctx.b)?;
        b.wait_script(
            "the headless caller to hang up",
            "const st = window.parleyTest.state(); return !st.call || st.call.state === 'ended';",
            vec![],
            crate::LONG,
        )?;
        Ok(format!(
            "one window, headless caller at 15 frames/s: received {:.1}/s, drawn {:.1}/s, requestAnimationFrame {raf}/s",
            (r2 - r1) / secs,
            (d2 - d1) / secs
        ))
    })();
    let _ = caller.kill();
    let _ = caller.wait();
    result
}
