//! `parley-cli doctor`: the connection doctor's report, as text or one JSON line.

use anyhow::Result;
use parley_engine::doctor::{self, DoctorOptions, DoctorReport, NatMapping, PathKind};
use parley_engine::storage::Profile;

use crate::args::NetArgs;

/// Runs the checks against `server` and prints the report. Errors when no call
/// could connect across the internet (so the exit code is 1).
pub async fn run(profile: &Profile, server: &str, net: &NetArgs, json: bool) -> Result<()> {
    let opts = DoctorOptions {
        server_url: server.to_owned(),
        key: profile.identity().signing_key().clone(),
        rtc: crate::session::rtc_config(net)?,
    };
    let report = doctor::run(&opts).await;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_text(&report);
    }
    if !report.usable() {
        anyhow::bail!("no call can connect across the internet from here (see above)");
    }
    Ok(())
}

fn ms(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.0} ms")).unwrap_or_default()
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "ok  "
    } else {
        "FAIL"
    }
}

fn print_text(r: &DoctorReport) {
    println!(
        "server  {}  {}  signed in {}",
        verdict(r.server.ok),
        r.server.url,
        ms(r.server.ms)
    );
    println!("ice servers from: {}", r.ice_source);
    if let Some(s) = &r.stun {
        println!(
            "stun    {}  {}  public {}  local {}  {}",
            verdict(s.ok),
            s.url,
            s.public.as_deref().unwrap_or("-"),
            s.local.as_deref().unwrap_or("-"),
            ms(s.rtt_ms)
        );
    }
    let nat = match r.nat {
        NatMapping::Open => "none (open: our address is public)",
        NatMapping::EndpointIndependent => "endpoint-independent mapping (cone NAT)",
        NatMapping::AddressDependent => "address-dependent mapping (symmetric NAT)",
        NatMapping::Unknown => "mapping behaviour unknown (needs an RFC 5780 STUN server or two)",
        NatMapping::UdpBlocked => "UDP blocked",
        NatMapping::NotTested => "not tested (no STUN server)",
    };
    println!("nat     {nat}");
    for t in &r.relays {
        println!(
            "turn    {}  {}  {}  relay in {}",
            verdict(t.ok),
            t.transport,
            t.url,
            ms(t.ms)
        );
    }
    let paths: Vec<&str> = r
        .paths
        .iter()
        .map(|p| match p {
            PathKind::Direct => "direct",
            PathKind::DirectLimited => "direct (only with open or cone-NAT peers)",
            PathKind::RelayUdp => "relay over UDP",
            PathKind::RelayTcp => "relay over TCP",
            PathKind::RelayTls => "relay over TLS",
        })
        .collect();
    if paths.is_empty() {
        println!("paths   none");
    } else {
        println!("paths   {}", paths.join(", "));
    }
    for a in &r.advice {
        println!("advice: {a}");
    }
}
