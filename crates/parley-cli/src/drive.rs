//! The one driver of `call` and `answer` once the call is started: prints what
//! happens, starts and stops the screen share as planned, hangs up when told to,
//! then prints the report and fails on what went wrong.

use std::time::Duration;

use anyhow::{bail, Result};
use parley_engine::call::{Call, CallCommand, CallEvent, CallReport};
use parley_engine::signaling::SignalingClient;
use parley_proto::PeerId;

use crate::args::CallArgs;
use crate::media;
use crate::screen_plan::ScreenPlan;
use crate::session::wait_secs;

/// When the driver ends the call.
pub enum Until {
    /// We hang up `secs` after the call was accepted, once every chat message and
    /// file given on the command line was delivered (whichever is later).
    HangUpAfter {
        /// Seconds after accept.
        secs: f64,
    },
    /// The peer hangs up (or the call fails).
    PeerHangsUp,
}

/// Runs `call` to its end (see the module doc). `media`: whether it carries media
/// (a data session has no screen to share). Closes `sig` afterwards.
///
/// Errors: the call's failure, or the first failed file transfer.
pub async fn drive(
    mut call: Call,
    sig: SignalingClient,
    mut screen: ScreenPlan,
    until: Until,
    media: bool,
    a: &CallArgs,
) -> Result<()> {
    // Armed at accept when we are the one to hang up.
    let hold = tokio::time::sleep(Duration::MAX / 4);
    tokio::pin!(hold);
    // Armed at accept when there are people to invite (--invite).
    let mut invites: Vec<PeerId> = Vec::new();
    for id in &a.invite {
        invites.push(crate::parse_id(id)?);
    }
    let invite_at = tokio::time::sleep(Duration::MAX / 4);
    tokio::pin!(invite_at);
    // Armed at accept with --send-file-after: the files offered then, and how
    // many of them have not ended yet.
    // (Checked before the call started; a file gone since is reported.)
    let mut late_files = match a.send_file_after {
        Some(_) => crate::session::files_to_send(a).unwrap_or_else(|e| {
            eprintln!("{e:#}");
            Vec::new()
        }),
        None => Vec::new(),
    };
    let mut late_left = late_files.len();
    let late_at = tokio::time::sleep(Duration::MAX / 4);
    tokio::pin!(late_at);
    let started = std::time::Instant::now();
    let (mut held, mut sends_done, mut hung_up, mut accepted) = (false, false, false, false);
    // Hang up only once the media path came up: a slow setup (a relay, heavy
    // loss) still gets its seconds of media, and one that never comes up ends
    // at the engine's connect timeout, as a failure.
    let mut connected = false;
    loop {
        tokio::select! {
            ev = call.next_event() => {
                let Some(ev) = ev else { break };
                print_event(&ev);
                if a.live_stats {
                    print_live(&ev, started);
                }
                if late_files.is_empty() && late_left > 0 && is_sent_or_failed(&ev) {
                    late_left -= 1;
                }
                match ev {
                    CallEvent::Accepted { .. } if !accepted => {
                        accepted = true;
                        let now = tokio::time::Instant::now();
                        if let Until::HangUpAfter { secs } = until {
                            hold.as_mut().reset(now + wait_secs(secs));
                        }
                        if !invites.is_empty() {
                            invite_at.as_mut().reset(now + wait_secs(a.invite_at));
                        }
                        if let Some(after) = a.send_file_after {
                            late_at.as_mut().reset(now + wait_secs(after));
                        }
                    }
                    CallEvent::SendsDone => sends_done = true,
                    CallEvent::Connected { .. } => {
                        connected = true;
                        if media {
                            screen.connected();
                        }
                    }
                    CallEvent::Ended { .. } => break,
                    _ => {}
                }
            }
            _ = &mut hold, if !held => held = true,
            _ = &mut invite_at, if !invites.is_empty() => {
                for peer in std::mem::take(&mut invites) {
                    eprintln!("inviting {peer}");
                    call.command(CallCommand::Invite(peer)).await.ok();
                }
            }
            cmd = screen.due(), if screen.pending() => {
                call.command(cmd).await.ok();
            }
            _ = &mut late_at, if !late_files.is_empty() => {
                eprintln!("offering {} file(s) now", late_files.len());
                let files = std::mem::take(&mut late_files);
                call.command(CallCommand::SendFiles(files)).await.ok();
            }
        }
        if held && sends_done && connected && late_left == 0 && !hung_up {
            hung_up = true;
            call.command(CallCommand::Hangup).await.ok();
        }
    }
    let report = call.finish().await;
    sig.close();
    media::report_missing_recordings(a);
    conclude(report?, a)
}

/// Whether `ev` ends a file we send (it arrived, or it did not).
fn is_sent_or_failed(ev: &CallEvent) -> bool {
    use parley_engine::transfer::{TransferDirection, TransferEvent};
    matches!(
        ev,
        CallEvent::Transfer {
            event: TransferEvent::Completed {
                direction: TransferDirection::Sending,
                ..
            } | TransferEvent::Failed {
                direction: TransferDirection::Sending,
                ..
            },
            ..
        }
    )
}

/// --live-stats: a line per stats period, and one when a file starts to arrive.
fn print_live(ev: &CallEvent, started: std::time::Instant) {
    use parley_engine::transfer::{TransferDirection, TransferEvent};
    match ev {
        CallEvent::Stats { stats, .. } => {
            let mut line = serde_json::to_value(stats).unwrap_or_default();
            line["atMs"] = (started.elapsed().as_millis() as u64).into();
            println!("live {line}");
        }
        CallEvent::Transfer {
            event: TransferEvent::Offered(p),
            ..
        } if p.direction == TransferDirection::Receiving => {
            println!("receiving: {} from byte {}", p.name, p.bytes_done);
        }
        _ => {}
    }
}

fn print_event(ev: &CallEvent) {
    match ev {
        CallEvent::ChatReceived { message, .. } => println!("chat: {}", message.text),
        CallEvent::Transfer { event, .. } => print_transfer(event),
        CallEvent::Ended { reason } => eprintln!("call ended: {reason}"),
        CallEvent::Connected { .. } => eprintln!("connected"),
        CallEvent::PeerLeft { peer, reason } => eprintln!("{peer} left the call: {reason}"),
        CallEvent::PeerJoined { peer } => eprintln!("{peer} joined the call"),
        CallEvent::InviteFailed { peer, reason } => match peer {
            Some(peer) => eprintln!("the invitation of {peer} failed: {reason}"),
            None => eprintln!("an invitation failed: {reason}"),
        },
        CallEvent::Reconnecting { .. } => eprintln!("connection lost; reconnecting"),
        CallEvent::Reconnected { .. } => eprintln!("reconnected"),
        CallEvent::FirstRemoteFrame { setup_ms, .. } => {
            eprintln!("first remote frame after {setup_ms} ms")
        }
        CallEvent::MediaPath { via_sfu: true } => eprintln!("media goes through the SFU"),
        CallEvent::MediaPath { via_sfu: false } => eprintln!("media goes peer to peer again"),
        CallEvent::RemoteScreenShare { sharing, .. } => eprintln!(
            "the peer {} sharing its screen",
            if *sharing { "started" } else { "stopped" }
        ),
        _ => {}
    }
}

fn conclude(report: CallReport, a: &CallArgs) -> Result<()> {
    if a.stats {
        let mut line = serde_json::to_value(&report)?;
        if let Some(latency) = crate::latency::summary() {
            line["glass_to_glass_ms"] = latency;
        }
        println!("{line}");
    }
    if let Some(err) = report.transfer_errors.first() {
        bail!("file transfer failed: {err}");
    }
    Ok(())
}

/// Prints finished transfers: `received: PATH (N bytes)` / `sent: NAME (N bytes)`, and
/// failures on stderr.
pub fn print_transfer(ev: &parley_engine::transfer::TransferEvent) {
    use parley_engine::transfer::{TransferDirection, TransferEvent};
    match ev {
        TransferEvent::Completed {
            path,
            name,
            bytes,
            direction,
            elapsed_ms,
            ..
        } => {
            let mbps = *bytes as f64 / (*elapsed_ms).max(1) as f64 / 1e3;
            match direction {
                TransferDirection::Receiving => {
                    println!(
                        "received: {} ({bytes} bytes, {mbps:.1} MB/s)",
                        path.display()
                    )
                }
                TransferDirection::Sending => {
                    println!("sent: {name} ({bytes} bytes, {mbps:.1} MB/s)")
                }
            }
        }
        TransferEvent::Failed { name, reason, .. } => {
            eprintln!("transfer of {name} failed: {reason}")
        }
        _ => {}
    }
}
