//! Mesh group calls (`--mesh`): N = 2, 3 and 4 `parley-cli` processes through
//! one local signaling server on 127.0.0.1, every member with a peer link to
//! every other, each sending the recorded clip (320x180 at 15 frames/s) and
//! speech for `--secs` seconds (default 10); the calls and the figures are
//! group.rs's.
//!
//! Per member: the uplink, bits/s, and the CPU, % of one core; each N is
//! compared with N = 2, measured in the same run. The caller's uplink is the
//! one compared: it hangs up first, with every link up (`uplink_bytes` counts
//! the links still up at a member's end); the invited members' links start
//! about 1 s after its first, which makes the figure a little low for N > 2.
//!
//! `--sfu` runs these calls too, and a call of six through Janus, all through
//! one `parley-signal` (sfu/).
//!
//! Run: `cargo build --release -p parley-cli -p parley-bench &&
//! target/release/parley-bench --mesh` (or `cargo run --release -p parley-bench --
//! --mesh --secs 10` once parley-cli is built in release).

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use anyhow::Result;

use crate::group::{group_call, Bench, Figures};

/// Group sizes of `--mesh`, the reference first.
pub const SIZES: [usize; 3] = [2, 3, 4];

/// Prints one member's figures of a call `label` (`mesh N=3`, say): uplink
/// (and through an SFU its two parts and the downlink), frames decoded per
/// other member, CPU.
pub(crate) fn print_member(label: &str, f: &Figures) {
    let path = match &f.sfu {
        Some(s) => format!(
            " ({:.2} to the SFU, {:.2} on peer links), downlink {:.2} Mbit/s, {:.1} frames/s \
             from the SFU of each other member ({} feeds) over its {:.1} s on the SFU; links",
            s.publish_bps / 1e6,
            f.links_bps / 1e6,
            s.downlink_bps / 1e6,
            s.fps_each,
            s.feeds.len(),
            s.secs
        ),
        None => format!(", {:.1} frames/s of each other member", f.fps_each),
    };
    println!(
        "  {label} {}: uplink {:.2} Mbit/s{path} over {:.1} s, CPU {:.0} % of a core ({:.1} s \
         in {:.1} s)",
        f.name,
        f.uplink_bps / 1e6,
        f.secs,
        f.cpu_pct,
        f.cpu.0,
        f.cpu.1
    );
}

/// The members' mean CPU, % of one core.
pub(crate) fn mean_cpu(members: &[Figures]) -> f64 {
    members.iter().map(|f| f.cpu_pct).sum::<f64>() / members.len().max(1) as f64
}

/// The mesh calls of [`SIZES`] through the server at `url`, each `secs` s long
/// (the first size is the reference the others are compared with); prints
/// every member's figures and, per size, the caller's uplink and the members'
/// mean CPU against the reference.
///
/// Errors: a member failed, or the clip or speech is missing.
pub fn run(cli: &Path, url: &str, secs: f64) -> Result<()> {
    let b = Bench::new(cli, url, IpAddr::V4(Ipv4Addr::LOCALHOST), secs)?;
    println!("mesh group calls of {secs} s, each member sending the clip and speech:");
    println!("  uplink: bytes sent on every link of the caller (it hangs up first, every link up)");
    let mut reference: Option<(f64, f64)> = None;
    for n in SIZES {
        let members = group_call(&b, n)?;
        let label = format!("N={n}");
        for f in &members {
            print_member(&label, f);
        }
        let (up, cpu) = (members[0].uplink_bps, mean_cpu(&members));
        let (up2, cpu2) = *reference.get_or_insert((up, cpu));
        println!(
            "mesh N={n}: uplink per member {:.2} Mbit/s (x{:.2} of N={}), CPU per member {cpu:.0} % of a core (x{:.1} of N={})",
            up / 1e6,
            up / up2,
            SIZES[0],
            cpu / cpu2,
            SIZES[0]
        );
    }
    Ok(())
}
