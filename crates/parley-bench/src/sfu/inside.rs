//! The part of `--sfu` that runs inside the namespace: the server, the calls,
//! the checks that each went the way it should, the table.

use std::net::IpAddr;
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, ensure, Result};

use super::server::Signal;
use super::{table, SFU_FROM, SFU_MEMBERS};
use crate::group::{group_call, Bench, Figures};
use crate::mesh::{print_member, SIZES};

/// Below this many frames/s of each other member from the SFU (the clip has
/// 15) a member's figure is flagged.
const LOW_FPS: f64 = 10.0;

/// One call of the run and the servers' share of it.
pub(super) struct Measured {
    /// Members.
    pub(super) n: usize,
    /// Whether its media went through the SFU.
    pub(super) sfu: bool,
    /// Each member's figures, the caller first.
    pub(super) members: Vec<Figures>,
    /// `parley-signal`'s CPU over the call, % of one core.
    pub(super) signal_pct: f64,
    /// Janus's CPU over the call, % of one core.
    pub(super) janus_pct: f64,
}

impl Measured {
    /// `mesh N=3`, `SFU N=6`.
    pub(super) fn label(&self) -> String {
        call_label(self.sfu, self.n)
    }
}

/// `mesh N=3` or, through the SFU, `SFU N=6`.
fn call_label(sfu: bool, n: usize) -> String {
    format!("{} N={n}", if sfu { "SFU" } else { "mesh" })
}

/// The whole `--sfu` benchmark, inside the namespace at `ip`: `signal`
/// (`parley-signal`) with Janus, then mesh calls of [`SIZES`] and a call of
/// [`SFU_MEMBERS`] through the SFU of `cli` (`parley-cli`) processes, each
/// `secs` s long; prints every member's figures and the table.
///
/// Errors: the server or a member failed, or a call did not go the way its
/// size says (see `check`).
pub fn inside(signal: &Path, cli: &Path, ip: IpAddr, secs: f64) -> Result<()> {
    let server = Signal::start(signal, ip, SFU_FROM)?;
    let b = Bench::new(cli, &server.url, ip, secs)?;
    println!(
        "one parley-signal at {} (--sfu janus --sfu-from {SFU_FROM}, Janus pid {}); calls of \
         {secs} s, each member sending the clip (320x180, 15 frames/s) and speech:",
        server.url, server.janus_pid
    );
    let mut calls = Vec::new();
    for n in SIZES.into_iter().chain([SFU_MEMBERS]) {
        calls.push(measured_call(&b, &server, n)?);
    }
    table::print(&calls, b.secs());
    Ok(())
}

/// One group call of `n` members, with the CPU of the servers over it;
/// prints each member's figures and checks the call.
fn measured_call(b: &Bench, server: &Signal, n: usize) -> Result<Measured> {
    let sfu = n >= SFU_FROM;
    let label = call_label(sfu, n);
    let (signal0, janus0) = server.cpu_seconds()?;
    let t0 = Instant::now();
    let members = group_call(b, n);
    let wall = t0.elapsed().as_secs_f64().max(1e-3);
    let log = || format!("parley-signal's log ends:\n{}", server.log_tail());
    let members = match members {
        Ok(members) => members,
        Err(e) => bail!("{label}: {e:#}\n{}", log()),
    };
    let (signal1, janus1) = server.cpu_seconds()?;
    let call = Measured {
        n,
        sfu,
        members,
        signal_pct: (signal1 - signal0) / wall * 100.0,
        janus_pct: (janus1 - janus0) / wall * 100.0,
    };
    for f in &call.members {
        print_member(&label, f);
    }
    println!(
        "  {label}: parley-signal {:.1} %, Janus {:.1} % of a core over {wall:.1} s",
        call.signal_pct, call.janus_pct
    );
    if let Err(e) = check(&call) {
        bail!("{e}\n{}", log());
    }
    Ok(call)
}

/// Checks that `call` went as its size says: a mesh call's media never went
/// through the SFU; in a call through the SFU every member published to it,
/// received every other member's feed from it and decoded video from it
/// (flagged, not failed, below [`LOW_FPS`] per other member).
fn check(call: &Measured) -> Result<()> {
    let label = call.label();
    for f in &call.members {
        let name = &f.name;
        let Some(s) = &f.sfu else {
            ensure!(
                !call.sfu,
                "{label}: {name}'s media did not go through the SFU (no `sfu` in its --stats)"
            );
            continue;
        };
        ensure!(
            call.sfu,
            "{label}: {name}'s media went through the SFU, though --sfu-from is {SFU_FROM}"
        );
        ensure!(
            s.publish_bps > 0.0,
            "{label}: {name} published nothing to the SFU"
        );
        for other in call.members.iter().filter(|o| o.id != f.id) {
            if !s.feeds.contains(&other.id) {
                bail!(
                    "{label}: {name} received no video of {} from the SFU (it subscribed to {} \
                     feeds of {})",
                    other.name,
                    s.feeds.len(),
                    call.n - 1
                );
            }
        }
        ensure!(
            s.frames > 0,
            "{label}: {name} decoded no video from the SFU ({} feeds subscribed)",
            s.feeds.len()
        );
        if s.fps_each < LOW_FPS {
            println!(
                "  note: {label} {name} decoded only {:.1} frames/s of each other member from \
                 the SFU",
                s.fps_each
            );
        }
    }
    Ok(())
}
