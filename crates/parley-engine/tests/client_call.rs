//! Two app-level clients (`parley_engine::client`) in one process, over real sockets:
//! the embedded signaling server of one, real WebRTC between them.
//!
//! Asserts:
//! - B's embedded server serves A; each sees the other online after adding them;
//! - A calls, B gets an incoming call and accepts, both reach `connected`;
//! - both render moving remote video (frames arrive in the remote `FrameSlot` and
//!   differ from one another) and a local preview;
//! - chat goes both ways and is stored in both histories;
//! - a folder dropped on the call (two files, one in a subfolder, and an empty
//!   folder) arrives in B's download folder as the same tree, same bytes;
//! - hang up ends the call on both sides;
//! - with B asking before receiving: B sees the offer (name, size, from A) and
//!   nothing is written until B accepts; a declined file reaches A as declined;
//!   a file A cancels mid-way ends as cancelled on both sides, and B keeps the
//!   part that arrived (hidden, for a resume); sent again, it resumes without
//!   asking B again, and B cancels it mid-way:
//!   cancelled on both sides and nothing left in B's folder; an accepted file
//!   arrives intact;
//! - devices switched mid-call reach the peer without a new call: after switching
//!   A's camera from a 320x240 test pattern to the recorded clip, B decodes 320x180
//!   frames that match clip frames (PSNR ≥ 30 dB); after switching A's microphone
//!   from a 440 Hz to a 1000 Hz tone, B hears 1000 Hz; after switching B's speakers,
//!   the audio goes to the new sink and no longer to the old one;
//! - a folder dropped on a call that still rings and cancelled before the
//!   callee answers ends as cancelled at the caller, leaves the queue, and is
//!   never offered: once the call connects, only a file sent afterwards
//!   reaches the callee;
//! - the built-in echo test contact is online, answers a call through a real second
//!   peer connection and sends our own video back (PSNR ≥ 25 dB against the frames we
//!   sent, after two encodes) and our chat message.

use std::sync::Arc;
use std::time::Duration;

use parley_engine::call::AudioSink;
use parley_engine::client::{CallPhase, Client, ClientEvent, DeviceKind, MediaProvider};
use parley_engine::media::{
    psnr_y, read_y4m_all, AudioSource, I420Frame, TestPatternSource, ToneSource, VideoSource,
    Y4mFileSource,
};
use parley_engine::storage::Direction as ChatDirection;
use parley_engine::transfer::{TransferCommand, TransferDirection, TransferEvent, TransferOutcome};
use parley_proto::data::ChatMessage;
use tokio::sync::mpsc;

mod common;
use common::{add_bob, call_and_accept, config, id_of, transfer_event, until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_call_chat_and_send_a_folder() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (b, mut bev) = Client::start(config(db.path(), None)).await.unwrap();
    let url = b.connection().url.clone();
    assert!(b.connection().embedded);
    let (a, mut aev) = Client::start(config(da.path(), Some(url))).await.unwrap();
    let (ida, idb) = (id_of(&a), id_of(&b));
    a.profile().add_contact(&idb, Some("Bob")).unwrap();
    b.profile().add_contact(&ida, Some("Alice")).unwrap();
    a.refresh_contacts().await;
    b.refresh_contacts().await;
    until(&mut aev, "bob online", |e| match e {
        ClientEvent::Presence { id, online: true } if *id == idb => Some(()),
        _ => None,
    })
    .await;

    let out = a.call(idb.clone()).await.unwrap();
    assert_eq!(out.state, CallPhase::RingingOut);
    let incoming = until(&mut bev, "incoming call", |e| match e {
        ClientEvent::IncomingCall(info) => Some(info.clone()),
        _ => None,
    })
    .await;
    assert_eq!(incoming.peer, ida);
    b.accept(&incoming.call_id).await.unwrap();
    for (rx, who) in [(&mut aev, "a"), (&mut bev, "b")] {
        until(rx, &format!("{who} connected"), |e| match e {
            ClientEvent::Call(i) if i.state == CallPhase::Connected => Some(()),
            _ => None,
        })
        .await;
    }

    // Moving remote video on both sides, and a local preview.
    for c in [&a, &b] {
        let f1 = tokio::time::timeout(Duration::from_secs(10), c.remote_video.next())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let f2 = tokio::time::timeout(Duration::from_secs(10), c.remote_video.next())
            .await
            .unwrap();
        assert_eq!((f1.width, f1.height), (320, 240));
        assert_ne!(f1.data, f2.data, "remote video does not move");
        tokio::time::timeout(Duration::from_secs(5), c.local_video.next())
            .await
            .unwrap();
    }

    // Chat both ways.
    a.send_chat(idb.clone(), "hi bob".into()).await.unwrap();
    b.send_chat(ida.clone(), "hi alice".into()).await.unwrap();
    until(&mut bev, "chat at b", |e| match e {
        ClientEvent::Chat { message, .. } if message.text == "hi bob" => Some(()),
        _ => None,
    })
    .await;
    until(&mut aev, "chat at a", |e| match e {
        ClientEvent::Chat { message, .. } if message.text == "hi alice" => Some(()),
        _ => None,
    })
    .await;
    let hist: Vec<String> = b
        .profile()
        .chat_history(&ida, 10)
        .unwrap()
        .into_iter()
        .map(|c| c.message.text)
        .collect();
    assert!(hist.contains(&"hi bob".to_owned()) && hist.contains(&"hi alice".to_owned()));

    // A folder dropped on the call arrives as a folder: both files intact in
    // their places, its empty folder too.
    let folder = da.path().join("drop");
    std::fs::create_dir_all(folder.join("sub")).unwrap();
    std::fs::create_dir_all(folder.join("empty")).unwrap();
    std::fs::write(folder.join("one.txt"), b"first file").unwrap();
    std::fs::write(folder.join("sub/two.bin"), vec![42u8; 300_000]).unwrap();
    a.send_files(idb.clone(), vec![folder]).await.unwrap();
    let mut done = 0;
    until(&mut bev, "the folder received", |e| match e {
        ClientEvent::Transfer {
            event:
                TransferEvent::Completed {
                    direction: TransferDirection::Receiving,
                    ..
                },
            ..
        } => {
            done += 1;
            (done == 3).then_some(())
        }
        _ => None,
    })
    .await;
    let dl = db.path().join("downloads/drop");
    assert_eq!(std::fs::read(dl.join("one.txt")).unwrap(), b"first file");
    assert_eq!(
        std::fs::read(dl.join("sub/two.bin")).unwrap(),
        vec![42u8; 300_000]
    );
    assert!(dl.join("empty").is_dir(), "the empty folder arrived");

    a.hangup().await;
    for (rx, who) in [(&mut aev, "a"), (&mut bev, "b")] {
        until(rx, &format!("{who} ended"), |e| match e {
            ClientEvent::Call(i) if i.state == CallPhase::Ended => Some(()),
            _ => None,
        })
        .await;
    }
    a.shutdown().await;
    b.shutdown().await;
}

/// Opens a different device each time: pattern then the clip (camera), 440 Hz then
/// 1000 Hz (microphone), a fresh recording sink (speakers).
struct Switchable {
    cameras: std::sync::atomic::AtomicUsize,
    mics: std::sync::atomic::AtomicUsize,
    speakers: std::sync::Mutex<Vec<Arc<std::sync::Mutex<Vec<f32>>>>>,
}

struct Recorder(Arc<std::sync::Mutex<Vec<f32>>>);

impl AudioSink for Recorder {
    fn samples(&mut self, samples: &[f32]) -> parley_engine::Result<()> {
        self.0.lock().unwrap().extend_from_slice(samples);
        Ok(())
    }
}

impl MediaProvider for Switchable {
    fn video_source(&self) -> parley_engine::Result<Option<Box<dyn VideoSource>>> {
        use std::sync::atomic::Ordering;
        Ok(Some(if self.cameras.fetch_add(1, Ordering::SeqCst) == 0 {
            Box::new(TestPatternSource::new(320, 240, 15.0)?)
        } else {
            Box::new(Y4mFileSource::open(clip(), true)?)
        }))
    }
    fn audio_source(&self) -> parley_engine::Result<Option<Box<dyn AudioSource>>> {
        use std::sync::atomic::Ordering;
        let hz = if self.mics.fetch_add(1, Ordering::SeqCst) == 0 {
            440.0
        } else {
            1000.0
        };
        Ok(Some(Box::new(ToneSource::new(hz, 0.3))))
    }
    fn audio_sinks(&self) -> Vec<Box<dyn AudioSink>> {
        let buf = Arc::new(std::sync::Mutex::new(Vec::new()));
        self.speakers.lock().unwrap().push(Arc::clone(&buf));
        vec![Box::new(Recorder(buf))]
    }
}

fn clip() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/media/chrome-320x180-15fps.y4m")
}

/// Dominant frequency of the last 0.5 s of 48 kHz samples, Hz (from zero crossings).
fn tone_hz(samples: &[f32]) -> f64 {
    let tail = &samples[samples.len().saturating_sub(24_000)..];
    let crossings = tail
        .windows(2)
        .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
        .count();
    crossings as f64 / 2.0 / (tail.len() as f64 / 48_000.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_switched_mid_call_reach_the_peer() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let switchable = || {
        Arc::new(Switchable {
            cameras: Default::default(),
            mics: Default::default(),
            speakers: Default::default(),
        })
    };
    let (ma, mb) = (switchable(), switchable());
    let mut cb = config(db.path(), None);
    cb.media = mb.clone();
    let (b, mut bev) = Client::start(cb).await.unwrap();
    let mut ca = config(da.path(), Some(b.connection().url.clone()));
    ca.media = ma.clone();
    let (a, mut aev) = Client::start(ca).await.unwrap();
    call_and_accept((&a, &mut aev), (&b, &mut bev)).await;
    let next = async |c: &Client| {
        tokio::time::timeout(Duration::from_secs(10), c.remote_video.next())
            .await
            .expect("remote video")
    };
    assert_eq!((next(&b).await.width, next(&b).await.height), (320, 240));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let heard = mb.speakers.lock().unwrap()[0].lock().unwrap().clone();
    let before = tone_hz(&heard);
    assert!(
        (400.0..480.0).contains(&before),
        "B hears {before:.0} Hz before the switch"
    );

    // Camera: the clip arrives in place of the pattern.
    a.switch_device(DeviceKind::Camera).await.unwrap();
    let clip_frames = read_y4m_all(clip()).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let frame = loop {
        let f = next(&b).await;
        if (f.width, f.height) == (320, 180) {
            break f;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {}x{} after the switch",
            f.width,
            f.height
        );
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let later = next(&b).await;
    for f in [&frame, &later] {
        let best = clip_frames.iter().map(|c| psnr_y(c, f)).fold(0.0, f64::max);
        assert!(
            best >= 30.0,
            "a frame after the switch matches the clip at only {best:.1} dB"
        );
    }

    // Microphone: 1000 Hz instead of 440 Hz.
    a.switch_device(DeviceKind::Microphone).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let heard = mb.speakers.lock().unwrap()[0].lock().unwrap().clone();
    let after = tone_hz(&heard);
    assert!(
        (950.0..1050.0).contains(&after),
        "B hears {after:.0} Hz after the switch"
    );

    // Speakers: B's audio moves to the new sink.
    b.switch_device(DeviceKind::Speaker).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let old_len = mb.speakers.lock().unwrap()[0].lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let sinks = mb.speakers.lock().unwrap().clone();
    assert_eq!(sinks.len(), 2);
    assert_eq!(
        sinks[0].lock().unwrap().len(),
        old_len,
        "the old sink still plays"
    );
    let new = sinks[1].lock().unwrap().clone();
    assert!(
        new.len() >= 48_000 / 2,
        "the new sink got only {} samples",
        new.len()
    );
    let hz = tone_hz(&new);
    assert!(
        (950.0..1050.0).contains(&hz),
        "the new sink hears {hz:.0} Hz"
    );

    a.hangup().await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receiver_decides_and_either_side_can_cancel() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut cb = config(db.path(), None);
    cb.ask_before_receiving = true;
    let (b, mut bev) = Client::start(cb).await.unwrap();
    let url = b.connection().url.clone();
    let (a, mut aev) = Client::start(config(da.path(), Some(url))).await.unwrap();
    let (ida, idb) = (id_of(&a), id_of(&b));
    add_bob(&a, &mut aev, &idb).await;
    call_and_accept((&a, &mut aev), (&b, &mut bev)).await;
    let downloads = db.path().join("downloads");
    let listing = || -> Vec<String> {
        std::fs::read_dir(&downloads)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let offered = async |bev: &mut mpsc::Receiver<ClientEvent>, name: &str| {
        until(bev, "an offer", |e| match e {
            ClientEvent::Transfer {
                peer,
                event: TransferEvent::Incoming(p),
            } if p.name == name => {
                assert_eq!(*peer, ida, "the offer names who sends");
                Some(p.clone())
            }
            _ => None,
        })
        .await
    };

    // Declined: A hears it, nothing lands at B.
    let src = da.path().join("send");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("no.txt"), b"unwanted").unwrap();
    a.send_files(idb.clone(), vec![src.join("no.txt")])
        .await
        .unwrap();
    let offer = offered(&mut bev, "no.txt").await;
    assert_eq!(offer.bytes_total, 8);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        listing().is_empty(),
        "written before the answer: {:?}",
        listing()
    );
    let transfer_id = offer.transfer_id.clone();
    b.transfer(TransferCommand::Decline { transfer_id })
        .await
        .unwrap();
    let (outcome, why) = transfer_event(&mut aev, "the decline at A", |e| match e {
        TransferEvent::Failed {
            outcome, reason, ..
        } => Some((*outcome, reason.clone())),
        _ => None,
    })
    .await;
    assert_eq!(outcome, TransferOutcome::Declined, "{why}");
    assert!(why.contains("declined"), "{why}");

    // Cancelled mid-way by the sender, then by the receiver.
    let big: Vec<u8> = (0..48 * 1024 * 1024u32)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    std::fs::write(src.join("big.bin"), &big).unwrap();
    for canceller in ["sender", "receiver"] {
        a.send_files(idb.clone(), vec![src.join("big.bin")])
            .await
            .unwrap();
        let transfer_id = if canceller == "sender" {
            let offer = offered(&mut bev, "big.bin").await;
            let accept = TransferCommand::Accept {
                transfer_id: offer.transfer_id.clone(),
            };
            b.transfer(accept).await.unwrap();
            offer.transfer_id
        } else {
            // B kept the part of the file it accepted: the offer resumes it
            // without asking B again.
            until(&mut bev, "the resumed offer", |e| match e {
                ClientEvent::Transfer {
                    event: TransferEvent::Incoming(p),
                    ..
                } => panic!("asked again for a file being resumed: {p:?}"),
                ClientEvent::Transfer {
                    event: TransferEvent::Offered(p),
                    ..
                } if p.name == "big.bin" => {
                    assert!(p.bytes_done > 0, "resumes from the kept part: {p:?}");
                    Some(p.transfer_id.clone())
                }
                _ => None,
            })
            .await
        };
        let (who, rx) = match canceller {
            "sender" => (&a, &mut aev),
            _ => (&b, &mut bev),
        };
        transfer_event(rx, "bytes moving", |e| match e {
            TransferEvent::Progress(p) if p.bytes_done > 0 => Some(()),
            _ => None,
        })
        .await;
        let cancel = TransferCommand::Cancel {
            transfer_id: transfer_id.clone(),
        };
        who.transfer(cancel).await.unwrap();
        for (rx, side) in [(&mut aev, "A"), (&mut bev, "B")] {
            let why = transfer_event(rx, &format!("the cancel at {side}"), |e| match e {
                TransferEvent::Failed {
                    transfer_id: t,
                    outcome,
                    reason,
                    ..
                } if *t == transfer_id => Some((*outcome, reason.clone())),
                TransferEvent::Completed { .. } => panic!("{canceller} cancel came too late"),
                _ => None,
            })
            .await;
            assert_eq!(why.0, TransferOutcome::Cancelled, "{side}: {}", why.1);
            assert!(why.1.contains("cancelled"), "{side}: {}", why.1);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        // The sender's cancel keeps the part for a resume; the receiving
        // user's discards it.
        let kept: &[&str] = match canceller {
            "sender" => &[".big.bin.parley-part", ".big.bin.parley-part.json"],
            _ => &[],
        };
        let mut left = listing();
        left.sort();
        assert_eq!(left, kept, "after a {canceller} cancel");
    }

    // Accepted: arrives intact.
    a.send_files(idb.clone(), vec![src.join("big.bin")])
        .await
        .unwrap();
    let transfer_id = offered(&mut bev, "big.bin").await.transfer_id;
    b.transfer(TransferCommand::Accept { transfer_id })
        .await
        .unwrap();
    transfer_event(&mut bev, "the file at B", |e| match e {
        TransferEvent::Completed { .. } => Some(()),
        TransferEvent::Failed { reason, .. } => panic!("failed: {reason}"),
        _ => None,
    })
    .await;
    assert!(std::fs::read(downloads.join("big.bin")).unwrap() == big);
    assert_eq!(listing(), ["big.bin"]);

    a.hangup().await;
    a.shutdown().await;
    b.shutdown().await;
}

/// While a call rings, files dropped for the callee go through a data session
/// of their own (the call may yet be declined); Bob does not have Alice as a
/// contact, so he declines that session at once. The user's cancel races that
/// decline: it reaches the ringing session (which reports the folder's files
/// cancelled), or the session ended first and the files wait in the queue
/// (cancelled there), or the cancel was handed to the session as it ended
/// (the client remembers it and does not try them again). In every order both
/// files are reported cancelled, leave the queue, and never reach Bob.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_cancelled_while_the_call_rings_is_never_sent() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (b, mut bev) = Client::start(config(db.path(), None)).await.unwrap();
    let url = b.connection().url.clone();
    let (a, mut aev) = Client::start(config(da.path(), Some(url))).await.unwrap();
    let idb = id_of(&b);
    add_bob(&a, &mut aev, &idb).await;
    a.call(idb.clone()).await.unwrap();
    let incoming = until(&mut bev, "incoming call", |e| match e {
        ClientEvent::IncomingCall(info) => Some(info.clone()),
        _ => None,
    })
    .await;

    // While it rings, Alice drops a folder of two files, then cancels it.
    let folder = da.path().join("trip");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("one.txt"), b"first").unwrap();
    std::fs::write(folder.join("two.txt"), b"second").unwrap();
    a.send_files(idb.clone(), vec![folder]).await.unwrap();
    let queued = a.profile().outbox(None).unwrap();
    assert_eq!(queued.len(), 2, "{queued:?}");
    let batch_id = queued[0].batch.clone().expect("a folder's batch").id;
    a.transfer(TransferCommand::Cancel {
        transfer_id: batch_id,
    })
    .await
    .unwrap();
    let mut ended = Vec::new();
    while ended.len() < 2 {
        let (name, outcome) =
            transfer_event(&mut aev, "the folder's files cancelled", |e| match e {
                TransferEvent::Failed { name, outcome, .. } => Some((name.clone(), *outcome)),
                _ => None,
            })
            .await;
        assert_eq!(outcome, TransferOutcome::Cancelled, "{name}");
        ended.push(name);
    }
    ended.sort();
    assert_eq!(ended, ["trip/one.txt", "trip/two.txt"]);
    assert!(
        a.profile().outbox(None).unwrap().is_empty(),
        "left the queue"
    );

    // Bob answers; a file sent now arrives, and nothing of the folder does
    // (offers go out in order on one channel: the folder's would come first).
    b.accept(&incoming.call_id).await.unwrap();
    until(&mut aev, "connected", |e| match e {
        ClientEvent::Call(i) if i.state == CallPhase::Connected => Some(()),
        _ => None,
    })
    .await;
    let after = da.path().join("after.txt");
    std::fs::write(&after, b"after").unwrap();
    a.send_files(idb.clone(), vec![after]).await.unwrap();
    until(&mut bev, "after.txt received", |e| match e {
        ClientEvent::Transfer { event, .. } => match event {
            TransferEvent::Incoming(p) | TransferEvent::Offered(p) if p.name != "after.txt" => {
                panic!("offered at Bob: {}", p.name)
            }
            TransferEvent::Completed { name, .. } => {
                assert_eq!(name, "after.txt", "only the file sent after arrives");
                Some(())
            }
            _ => None,
        },
        _ => None,
    })
    .await;
    let listing: Vec<_> = std::fs::read_dir(db.path().join("downloads"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(listing, ["after.txt"]);
    a.hangup().await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_echo_test_contact_sends_our_media_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), None);
    cfg.echo_test = true;
    let (a, mut aev) = Client::start(cfg).await.unwrap();
    let echo = a.echo_id().expect("the echo contact runs").clone();
    assert_ne!(echo, id_of(&a));
    a.refresh_contacts().await;
    until(&mut aev, "the echo contact online", |e| match e {
        ClientEvent::Presence { id, online: true } if *id == echo => Some(()),
        _ => None,
    })
    .await;
    a.call(echo.clone()).await.unwrap();
    until(&mut aev, "connected to the echo", |e| match e {
        ClientEvent::Call(i) if i.state == CallPhase::Connected => Some(()),
        _ => None,
    })
    .await;

    // Keep what we send (the preview) while taking frames that come back; compare
    // each echoed frame with every frame sent.
    let sent = Arc::new(std::sync::Mutex::new(Vec::<I420Frame>::new()));
    let collector = {
        let (sent, slot) = (Arc::clone(&sent), a.local_video.clone());
        tokio::spawn(async move {
            loop {
                let f = slot.next().await;
                sent.lock().unwrap().push(f);
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut back = Vec::new();
    for _ in 0..5 {
        let f = tokio::time::timeout(Duration::from_secs(10), a.remote_video.next())
            .await
            .expect("echoed video");
        back.push(f);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    collector.abort();
    let mut best: Vec<f64> = {
        let sent = sent.lock().unwrap();
        back.iter()
            .map(|b| sent.iter().map(|s| psnr_y(s, b)).fold(0.0, f64::max))
            .collect()
    };
    best.sort_by(f64::total_cmp);
    let median = best[best.len() / 2];
    eprintln!("echoed frames against what we sent: {best:.1?} dB");
    assert!(
        median >= 25.0,
        "echoed frames match what we sent at only {best:?} dB"
    );

    a.send_chat(echo.clone(), "echo?".into()).await.unwrap();
    until(&mut aev, "the chat echoed", |e| match e {
        ClientEvent::Chat {
            message: ChatMessage { text, .. },
            direction: ChatDirection::Received,
            peer,
        } if text == "echo?" && *peer == echo => Some(()),
        _ => None,
    })
    .await;
    a.hangup().await;
    until(&mut aev, "the echo call ended", |e| match e {
        ClientEvent::Call(i) if i.state == CallPhase::Ended => Some(()),
        _ => None,
    })
    .await;
    a.shutdown().await;
}
