//! The `--sfu` table: every call of the run against the N = 2 mesh of the same
//! run, in Markdown (for BENCHMARKS.md).

use super::inside::Measured;
use crate::group::{Figures, SfuFigures};
use crate::mesh::mean_cpu;

/// `bps` (bits/s) in Mbit/s, two decimals.
fn mbit(bps: f64) -> String {
    format!("{:.2}", bps / 1e6)
}

/// The mean and the least of `v` over `members`.
fn mean_min(members: &[Figures], v: impl Fn(&Figures) -> f64) -> (f64, f64) {
    let all: Vec<f64> = members.iter().map(v).collect();
    let mean = all.iter().sum::<f64>() / all.len().max(1) as f64;
    (mean, all.iter().copied().fold(f64::INFINITY, f64::min))
}

/// `v` of a member's share of the SFU; 0 without one.
fn of_sfu(f: &Figures, v: fn(&SfuFigures) -> f64) -> f64 {
    f.sfu.as_ref().map_or(0.0, v)
}

/// Prints the table of `calls`, each `secs` s long (the first, the N = 2 mesh,
/// is the reference of the ratios), how each figure is taken, and the call
/// through the SFU's uplink over all members and its CPU all together.
pub(super) fn print(calls: &[Measured], secs: f64) {
    let Some(reference) = calls.first() else {
        return;
    };
    let ref_up = reference.members[0].uplink_bps;
    let ref_cpu = mean_cpu(&reference.members);
    let vs = reference.label();
    println!();
    println!(
        "calls of {secs} s through one parley-signal, each member sending the 320x180 15 frames/s \
         clip and speech; ratios against {vs} of this run:"
    );
    println!();
    println!(
        "| call | uplink per member (Mbit/s) | vs {vs} | to the SFU | on peer links | downlink \
         per member (Mbit/s) | CPU per member (% of one core) | vs {vs} | frames/s of each \
         other member | parley-signal CPU | Janus CPU |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for c in calls {
        let caller = &c.members[0];
        let cpu = mean_cpu(&c.members);
        let (to_sfu, down, (fps, fps_min)) = if c.sfu {
            let publish = of_sfu(caller, |s| s.publish_bps);
            let (down, _) = mean_min(&c.members, |f| of_sfu(f, |s| s.downlink_bps));
            let fps = mean_min(&c.members, |f| of_sfu(f, |s| s.fps_each));
            (mbit(publish), mbit(down), fps)
        } else {
            let fps = mean_min(&c.members, |f| f.fps_each);
            ("—".to_owned(), "—".to_owned(), fps)
        };
        println!(
            "| {}, {} members | {} | x{:.2} | {to_sfu} | {} | {down} | {cpu:.0} % | x{:.2} | \
             {fps:.1} (least {fps_min:.1}) | {:.1} % | {:.1} % |",
            if c.sfu { "SFU" } else { "mesh" },
            c.n,
            mbit(caller.uplink_bps),
            caller.uplink_bps / ref_up,
            mbit(caller.links_bps),
            cpu / ref_cpu,
            c.signal_pct,
            c.janus_pct
        );
    }
    println!();
    println!(
        "uplink: the caller's, bits/s (mesh: every peer link over its connected time, all up \
         until it hangs up first; SFU: its publisher to Janus over the time its media went \
         through the SFU, from its `media goes through the SFU`, plus its peer links, which \
         carry chat and control, over its connected time). Downlink: from the SFU over that \
         time, mean of the members. CPU: user + system time of each member process over its \
         wall time, mean of the members. Frames/s: video frames each member decoded (through \
         the SFU: from it, over its time on the SFU) divided by the other members (--stats \
         gives their sum), mean of the members (least). parley-signal, Janus: their CPU over \
         each call, % of one core."
    );
    if let Some(s) = calls.iter().find(|c| c.sfu) {
        let (up, up_min) = mean_min(&s.members, |f| f.uplink_bps);
        let members: f64 = s.members.iter().map(|f| f.cpu_pct).sum();
        println!(
            "{}: uplink over all members {} Mbit/s (least {}); the members' CPU together \
             {members:.0} % of one core, with Janus and parley-signal {:.0} %",
            s.label(),
            mbit(up),
            mbit(up_min),
            members + s.janus_pct + s.signal_pct
        );
    }
}
