//! `call` and `answer`: one call each, from the command line.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use parley_engine::call::{Call, CallOptions, Direction, FileToSend};
use parley_engine::rtc::{IceServer, RtcConfig};
use parley_engine::signaling::{SignalEvent, SignalingClient};
use parley_engine::storage::Profile;
use parley_proto::{CallKind, ClientMessage, PeerId, ServerMessage};

use crate::args::{CallArgs, NetArgs};
use crate::drive::{drive, Until};
use crate::media;
use crate::screen_plan::ScreenPlan;

/// The peer connection settings from the network options.
pub fn rtc_config(a: &NetArgs) -> Result<RtcConfig> {
    let mut cfg = RtcConfig::default();
    if let Some(bind) = a.bind {
        cfg.udp_bind = vec![bind];
    }
    if !a.ice_server.is_empty() {
        let server = IceServer {
            urls: a.ice_server.clone(),
            username: a.ice_username.clone().unwrap_or_default(),
            credential: a.ice_credential.clone().unwrap_or_default(),
        };
        server.validate().context("--ice-server")?;
        cfg.ice_servers = vec![server];
    }
    cfg.relay_only = a.relay_only;
    if a.no_congestion_control {
        cfg.congestion = None;
    }
    cfg.nack = !a.no_nack;
    if let Some(ca) = &a.turn_ca {
        cfg.turn_tls_roots = parley_engine::rtc::load_pem_certificates(ca).context("--turn-ca")?;
    }
    Ok(cfg)
}

/// The files given with --send-file and --send-file-as, checked.
///
/// Errors: one is not a regular file.
pub fn files_to_send(a: &CallArgs) -> Result<Vec<FileToSend>> {
    let mut files: Vec<FileToSend> = a
        .send_file
        .iter()
        .map(|p| FileToSend {
            path: p.clone(),
            name: None,
            to: None,
            transfer_id: None,
            batch: None,
        })
        .collect();
    for pair in a.send_file_as.chunks(2) {
        if let [name, path] = pair {
            files.push(FileToSend {
                path: path.into(),
                name: Some(name.clone()),
                to: None,
                transfer_id: None,
                batch: None,
            });
        }
    }
    for f in &files {
        let meta = std::fs::metadata(&f.path)
            .with_context(|| format!("--send-file {}", f.path.display()))?;
        if !meta.is_file() {
            bail!("--send-file {}: not a regular file", f.path.display());
        }
    }
    Ok(files)
}

/// Builds the call options from the command line; `auto` picks camera/mic when present.
pub fn call_options(
    a: &CallArgs,
    profile: Option<Arc<Profile>>,
    auto: bool,
) -> Result<CallOptions> {
    let mut files = files_to_send(a)?;
    if a.send_file_after.is_some() {
        files.clear(); // offered later, by the driver
    }
    if let Some(dir) = &a.receive_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("--receive-dir {}", dir.display()))?;
    }
    let (video_sinks, audio_sinks, screen_sinks) = media::sinks(a)?;
    let mut opts = CallOptions {
        rtc: rtc_config(&a.net)?,
        video_source: media::video_source(a, auto)?,
        audio_source: media::audio_source(a, auto)?,
        video_sinks,
        audio_sinks,
        screen_sinks,
        chat: a.chat.clone(),
        send_files: files,
        receive_dir: a.receive_dir.clone(),
        profile,
        ..Default::default()
    };
    if let Some(kbps) = a.video_kbps {
        opts.video_bitrate_bps = Some(kbps.saturating_mul(1000));
    }
    if let Some(kbps) = a.screen_kbps {
        opts.screen_bitrate_bps = kbps.saturating_mul(1000);
    }
    if !(a.lost_after.is_finite() && a.lost_after > 0.0) {
        bail!("--lost-after must be a positive number of seconds");
    }
    opts.lost_after_ms = (a.lost_after * 1000.0) as u64;
    opts.audio.fec = !a.no_fec;
    opts.audio.dtx = !a.no_dtx;
    opts.audio_processing = parley_engine::media::ProcessingConfig {
        echo_cancellation: !a.no_echo_cancellation,
        noise_suppression: !a.no_noise_suppression,
        gain_control: !a.no_gain_control,
    };
    opts.remote_sinks = media::member_sinks(a, &mut opts);
    Ok(opts)
}

/// Longest wait the command line's seconds turn into: a year, far enough to be
/// "forever" and near enough to add to an `Instant` without overflowing.
const LONGEST_WAIT: Duration = Duration::from_secs(365 * 24 * 3600);

/// A wait of `secs` seconds: 0 when negative or NaN, at most [`LONGEST_WAIT`]
/// (also for infinity or 1e300, which `Duration::from_secs_f64` panics on).
pub(crate) fn wait_secs(secs: f64) -> Duration {
    Duration::try_from_secs_f64(secs.max(0.0)).map_or(LONGEST_WAIT, |d| d.min(LONGEST_WAIT))
}

/// Signs in to `server`; to the embedded server of `owner`, found nearby, with a
/// sign-in bound to that owner (docs/protocol.md §3.1), its STUN/TURN servers
/// ignored.
async fn connect(
    profile: &Profile,
    server: &str,
    owner: Option<&PeerId>,
) -> Result<(SignalingClient, tokio::sync::mpsc::Receiver<SignalEvent>)> {
    let key = profile.identity().signing_key().clone();
    let signed_in = match owner {
        Some(owner) => SignalingClient::connect_nearby(server, key, owner.clone()).await,
        None => SignalingClient::connect(server, key).await,
    };
    signed_in.with_context(|| format!("signaling server {server}"))
}

/// Watches `ids` and waits until the server reports every one online (at most
/// `secs`). Errors: one is still offline then (named).
async fn wait_online(
    sig: &SignalingClient,
    sig_rx: &mut tokio::sync::mpsc::Receiver<SignalEvent>,
    ids: &[PeerId],
    secs: f64,
) -> Result<()> {
    let mut waiting: Vec<PeerId> = ids.to_vec();
    sig.watch(waiting.clone()).await?;
    let online = async {
        while let Some(ev) = sig_rx.recv().await {
            if let SignalEvent::Message(ServerMessage::Presence { id, online: true }) = ev {
                waiting.retain(|w| *w != id);
                if waiting.is_empty() {
                    return;
                }
            }
        }
    };
    let _ = tokio::time::timeout(wait_secs(secs), online).await;
    match waiting.first() {
        None => Ok(()),
        Some(id) => bail!("{id} is offline"),
    }
}

/// Calls `to`, stays `duration_s` seconds (or until our sends are done, if later),
/// hangs up. `untrusted_server`: the server is `to`'s own, found nearby, not trusted
/// with our media: the sign-in is bound to `to`, and any SFU it offers is ignored
/// ([`CallOptions::refuse_sfu`]), and so are its STUN/TURN servers
/// ([`CallOptions::refuse_server_ice`]).
pub async fn call(
    profile: Arc<Profile>,
    server: &str,
    to: PeerId,
    duration_s: f64,
    a: CallArgs,
    untrusted_server: bool,
) -> Result<()> {
    let mut opts = call_options(&a, Some(Arc::clone(&profile)), true)?;
    opts.refuse_sfu = untrusted_server;
    opts.refuse_server_ice = untrusted_server;
    let screen = ScreenPlan::new(&a)?;
    let (sig, mut sig_rx) = connect(&profile, server, untrusted_server.then_some(&to)).await?;
    // The callee, and those to invite once it answers.
    let mut members = vec![to.clone()];
    for id in &a.invite {
        members.push(crate::parse_id(id)?);
    }
    wait_online(&sig, &mut sig_rx, &members, a.wait_online).await?;
    let direction = Direction::Outgoing {
        to,
        call_id: parley_engine::call::new_call_id(),
    };
    let call = Call::start(sig.clone(), sig_rx, direction, opts);
    let until = Until::HangUpAfter {
        secs: duration_s.max(0.0),
    };
    drive(call, sig, screen, until, true, &a).await
}

/// Whether `id` is in the profile's contact list (an unreadable list counts as
/// empty).
fn is_contact(profile: &Profile, id: &PeerId) -> bool {
    profile
        .contacts()
        .map(|list| list.iter().any(|c| c.id == *id))
        .unwrap_or(false)
}

/// Waits for one incoming call (at most `timeout_s`), accepts it, and returns when the
/// caller hangs up. A data session (chat and files outside a call, docs/protocol.md
/// §6.1) is taken the same way when it comes from a contact, and declined with
/// reason `not a contact` otherwise, as the app does. `untrusted_server`: as for
/// [`call`].
pub async fn answer(
    profile: Arc<Profile>,
    server: &str,
    timeout_s: f64,
    a: CallArgs,
    untrusted_server: bool,
) -> Result<()> {
    let mut opts = call_options(&a, Some(Arc::clone(&profile)), true)?;
    opts.refuse_sfu = untrusted_server;
    opts.refuse_server_ice = untrusted_server;
    let screen = ScreenPlan::new(&a)?;
    // Our own server, even with `--server auto`.
    let (sig, mut sig_rx) = connect(&profile, server, None).await?;
    let wait = async {
        while let Some(ev) = sig_rx.recv().await {
            let SignalEvent::Message(ServerMessage::Invite {
                call_id,
                from,
                kind,
                members,
                sfu,
                ..
            }) = ev
            else {
                continue;
            };
            if kind == CallKind::Data && !is_contact(&profile, &from) {
                // A stranger learns nothing (not even our address), and the
                // session holds nothing on the server.
                eprintln!("declined a data session from {from}: not a contact");
                let reason = Some("not a contact".to_owned());
                let _ = sig.send(ClientMessage::Decline { call_id, reason }).await;
                continue;
            }
            return Some((call_id, from, kind, members, sfu));
        }
        None
    };
    let arrived = tokio::time::timeout(wait_secs(timeout_s), wait).await;
    let (call_id, from, kind, members, via_sfu) = arrived
        .map_err(|_| anyhow::anyhow!("no call arrived within {timeout_s} s"))?
        .context("signaling connection closed while waiting for a call")?;
    let is_media = kind == CallKind::Media;
    opts.via_sfu = via_sfu;
    if via_sfu && untrusted_server {
        eprintln!("the server offers its SFU for this call: refused, media stays peer to peer");
    } else if via_sfu {
        eprintln!("the call's media goes through the server's SFU");
    }
    if !members.is_empty() {
        let names: Vec<String> = members.iter().map(ToString::to_string).collect();
        eprintln!("{from} invites us into a call with {}", names.join(", "));
    } else if is_media {
        eprintln!("incoming call from {from}");
    } else {
        eprintln!("incoming data session from {from}");
        // Chat and files only: the media transceivers send nothing (§6.1).
        opts.kind = CallKind::Data;
        opts.video_source = None;
        opts.audio_source = None;
    }
    let direction = if members.is_empty() {
        Direction::Incoming { call_id, from }
    } else {
        Direction::Join {
            call_id,
            from,
            members,
        }
    };
    let call = Call::start(sig.clone(), sig_rx, direction, opts);
    let until = match a.leave_after {
        Some(secs) => Until::HangUpAfter {
            secs: secs.max(0.0),
        },
        None => Until::PeerHangsUp,
    };
    drive(call, sig, screen, until, is_media, &a).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_from_the_command_line_never_panic() {
        assert_eq!(wait_secs(1.5), Duration::from_millis(1500));
        assert_eq!(wait_secs(-3.0), Duration::ZERO);
        assert_eq!(wait_secs(f64::NAN), Duration::ZERO);
        for huge in [1e300, f64::INFINITY] {
            assert_eq!(wait_secs(huge), LONGEST_WAIT);
            // What drive.rs does with it.
            let _ = tokio::time::Instant::now() + wait_secs(huge);
        }
    }
}
