//! `send` and `receive`: files through the app's engine ([`parley_engine::client`]),
//! with its queue in the profile, so a transfer interrupted by a dropped
//! connection or a killed process goes on by itself when both run again.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use parley_engine::client::{Client, ClientConfig, ClientEvent, NoMedia};
use parley_engine::storage::Profile;
use parley_engine::transfer::{
    TransferCommand, TransferDirection, TransferEvent, TransferProgress,
};
use parley_proto::PeerId;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::args::NetArgs;
use crate::session::{rtc_config, wait_secs};

/// Starts the engine signed in to `server`, saving received files in
/// `download_dir` (without asking when `!ask`).
async fn start(
    profile: Arc<Profile>,
    server: &str,
    download_dir: PathBuf,
    ask: bool,
    net: &NetArgs,
) -> Result<(Client, mpsc::Receiver<ClientEvent>)> {
    if crate::nearby::is_auto(server) {
        bail!("send and receive need a server URL (--server auto: call and answer)");
    }
    let config = ClientConfig {
        profile,
        server_url: Some(server.to_owned()),
        embedded_listen: "127.0.0.1:0".parse().expect("a socket address"),
        rtc: rtc_config(net)?,
        download_dir,
        media: Arc::new(NoMedia),
        remote_video: Default::default(),
        local_video: Default::default(),
        remote_screen: Default::default(),
        echo_test: false,
        ask_before_receiving: ask,
    };
    Client::start(config)
        .await
        .with_context(|| format!("signaling server {server}"))
}

/// `send ID [PATHS…]`: queues `paths` for `to`, then waits until nothing is
/// queued for them (or `timeout_s`).
///
/// Errors: a path does not exist; `to` is not a contact; a file did not
/// arrive (declined, cancelled, given up); the time ran out (the rest stays
/// queued for the next run).
pub async fn send(
    profile: Arc<Profile>,
    server: &str,
    to: PeerId,
    paths: Vec<PathBuf>,
    timeout_s: f64,
    net: &NetArgs,
) -> Result<()> {
    for p in &paths {
        std::fs::metadata(p).with_context(|| format!("{}", p.display()))?;
    }
    let contact = profile.contacts()?.into_iter().any(|c| c.id == to);
    if !contact {
        bail!("{to} is not a contact (add it with `parley-cli contact add`)");
    }
    if paths.is_empty() && profile.outbox(Some(&to))?.is_empty() {
        println!("nothing queued for {to}");
        return Ok(());
    }
    // Offers to us are declined: this command only sends.
    let download_dir = profile.dir().join("received");
    let (client, mut events) = start(profile, server, download_dir, true, net).await?;
    let deadline = Instant::now() + wait_secs(timeout_s);
    let result = send_until_done(&client, &mut events, &to, paths, deadline).await;
    client.shutdown().await;
    result
}

async fn send_until_done(
    client: &Client,
    events: &mut mpsc::Receiver<ClientEvent>,
    to: &PeerId,
    mut paths: Vec<PathBuf>,
    deadline: Instant,
) -> Result<()> {
    let mut failed = 0usize;
    // Every queued file ends with one event that says so; those queued by an
    // earlier run go on by themselves once `to` is online.
    let mut pending: HashSet<String> = client
        .queued_files(Some(to))?
        .into_iter()
        .map(|e| e.transfer_id)
        .collect();
    loop {
        let ev = match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(ev)) => ev,
            Ok(None) => bail!("the engine stopped"),
            Err(_) => {
                let left = client.queued_files(Some(to))?.len();
                bail!("{left} file(s) still queued for {to}: they go on with the next `parley-cli send`");
            }
        };
        match ev {
            // Queued files go on by themselves when the contact is online;
            // new ones are queued then too.
            ClientEvent::Presence { id, online: true } if id == *to && !paths.is_empty() => {
                let ids = client
                    .queue_files(to.clone(), std::mem::take(&mut paths))
                    .await?;
                eprintln!("queued {} file(s) and empty folder(s) for {to}", ids.len());
                pending.extend(ids);
            }
            ClientEvent::Presence { id, online: false } if id == *to => {
                eprintln!("{to} is offline: waiting");
            }
            ClientEvent::Transfer { peer, event } if peer == *to => match event {
                TransferEvent::Incoming(p) => {
                    let transfer_id = p.transfer_id;
                    let _ = client
                        .transfer(TransferCommand::Decline { transfer_id })
                        .await;
                }
                TransferEvent::Completed {
                    transfer_id,
                    name,
                    bytes,
                    direction: TransferDirection::Sending,
                    already_there,
                    ..
                } => {
                    pending.remove(&transfer_id);
                    match already_there {
                        true => println!("already there {bytes} {name}"),
                        false => println!("sent {bytes} {name}"),
                    }
                }
                TransferEvent::Queued { name, reason, .. } => {
                    eprintln!("{name}: {reason}; it will go on");
                }
                TransferEvent::Failed {
                    transfer_id,
                    name,
                    reason,
                    direction: TransferDirection::Sending,
                    ..
                } => {
                    let queued = client.queued_files(Some(to))?;
                    if queued.iter().any(|e| e.transfer_id == transfer_id) {
                        eprintln!("{name}: {reason}; it will go on");
                    } else {
                        println!("failed {name}: {reason}");
                        pending.remove(&transfer_id);
                        failed += 1;
                    }
                }
                _ => continue,
            },
            _ => continue,
        }
        if paths.is_empty() && pending.is_empty() {
            break;
        }
    }
    if failed > 0 {
        bail!("{failed} file(s) did not arrive");
    }
    Ok(())
}

/// `receive --receive-dir DIR`: saves what contacts send until `count` files
/// arrived or `timeout_s` passed; with `ask`, each offer is put to the user
/// (once per dropped folder) and answered yes (`Some(true)`) or no.
///
/// Errors: the folder cannot be made; fewer than `count` files arrived in time.
pub async fn receive(
    profile: Arc<Profile>,
    server: &str,
    dir: PathBuf,
    count: Option<usize>,
    ask: Option<bool>,
    timeout_s: f64,
    net: &NetArgs,
) -> Result<()> {
    std::fs::create_dir_all(&dir).with_context(|| format!("--receive-dir {}", dir.display()))?;
    let (client, mut events) = start(profile, server, dir, ask.is_some(), net).await?;
    let mut asked: HashSet<String> = HashSet::new();
    let deadline = Instant::now() + wait_secs(timeout_s);
    let mut received = 0usize;
    let mut senders: Vec<PeerId> = Vec::new();
    let result = loop {
        if count.is_some_and(|n| received >= n) {
            linger(&mut events, senders).await;
            break Ok(());
        }
        let ev = match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(ev)) => ev,
            Ok(None) => break Err(anyhow::anyhow!("the engine stopped")),
            Err(_) if count.is_none() => break Ok(()),
            Err(_) => {
                let n = count.unwrap_or_default();
                break Err(anyhow::anyhow!("{received} of {n} file(s) arrived in time"));
            }
        };
        let ClientEvent::Transfer { event, peer } = ev else {
            continue;
        };
        match event {
            TransferEvent::Incoming(p) => {
                let (line, command) = answer(&mut asked, &p, ask == Some(true));
                if let Some(line) = line {
                    println!("{line}");
                }
                if let Err(e) = client.transfer(command).await {
                    eprintln!("answer to {} not delivered: {e}", p.name);
                }
            }
            TransferEvent::Offered(p) if p.direction == TransferDirection::Receiving => {
                eprintln!("receiving {} from byte {}", p.name, p.bytes_done);
            }
            TransferEvent::Completed {
                path,
                bytes,
                direction: TransferDirection::Receiving,
                already_there,
                ..
            } => {
                let said = if already_there {
                    "already there"
                } else {
                    "received"
                };
                println!("{said} {bytes} {}", path.display());
                received += 1;
                if !senders.contains(&peer) {
                    senders.push(peer);
                }
            }
            TransferEvent::Failed {
                name,
                reason,
                direction: TransferDirection::Receiving,
                ..
            } => eprintln!("failed {name}: {reason}"),
            _ => {}
        }
    };
    client.shutdown().await;
    result
}

/// Longest a finished `receive` waits for its senders to let go, ms.
const LINGER_MS: u64 = 10_000;

/// Keeps the engine up until every one of `senders` has gone offline (at most
/// [`LINGER_MS`]), so our last `complete` reaches them before the connection
/// closes; a sender that missed it would offer the file again next time, and
/// hear that it is already here.
async fn linger(events: &mut mpsc::Receiver<ClientEvent>, mut senders: Vec<PeerId>) {
    let deadline = Instant::now() + std::time::Duration::from_millis(LINGER_MS);
    while !senders.is_empty() {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(ClientEvent::Presence { id, online: false })) => senders.retain(|s| *s != id),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return,
        }
    }
}

/// `receive --ask`'s answer to an offer (`yes`: accept), and the line to print
/// for it (`None`: its folder was printed already). A folder is answered by its
/// batch id and printed once (`asked folder NAME FILES BYTES`), but answered
/// at each of its offers that asks (each offer of a folder not yet answered
/// in this session asks): an answer can be lost when the session closes
/// before it arrives, and the sender then offers the folder again in a new
/// one; answering a decided folder again only records the same decision.
fn answer(
    asked: &mut HashSet<String>,
    p: &TransferProgress,
    yes: bool,
) -> (Option<String>, TransferCommand) {
    let (line, transfer_id) = match &p.batch {
        Some(b) => {
            let first = asked.insert(b.id.clone());
            let line = format!("asked folder {} {} {}", b.name, b.files, b.size);
            (first.then_some(line), b.id.clone())
        }
        None => {
            let line = format!("asked file {} {}", p.name, p.bytes_total);
            (Some(line), p.transfer_id.clone())
        }
    };
    let command = match yes {
        true => TransferCommand::Accept { transfer_id },
        false => TransferCommand::Decline { transfer_id },
    };
    (line, command)
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_engine::transfer::Batch;

    fn offer(id: &str, batch: Option<&Batch>) -> TransferProgress {
        TransferProgress {
            transfer_id: id.repeat(32),
            name: "x".into(),
            bytes_done: 0,
            bytes_total: 5,
            direction: TransferDirection::Receiving,
            batch: batch.cloned(),
        }
    }

    #[test]
    fn a_folder_is_printed_once_and_answered_at_every_offer_that_asks() {
        let batch = Batch {
            id: "b".repeat(32),
            name: "trip".into(),
            files: 2,
            size: 10,
        };
        let mut asked = HashSet::new();
        let accept = TransferCommand::Accept {
            transfer_id: batch.id.clone(),
        };
        let (line, command) = answer(&mut asked, &offer("1", Some(&batch)), true);
        assert_eq!(line.as_deref(), Some("asked folder trip 2 10"));
        assert_eq!(command, accept);
        // The session closed before the answer arrived; the folder asks again.
        let (line, command) = answer(&mut asked, &offer("2", Some(&batch)), true);
        assert_eq!(line, None);
        assert_eq!(command, accept);
        let (line, command) = answer(&mut asked, &offer("3", None), false);
        assert_eq!(line.as_deref(), Some("asked file x 5"));
        assert_eq!(
            command,
            TransferCommand::Decline {
                transfer_id: "3".repeat(32)
            }
        );
    }
}
