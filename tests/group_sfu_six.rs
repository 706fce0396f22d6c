//! A group call of six `parley-cli` processes through the SFU: the real
//! `parley-signal` with `--sfu janus --sfu-from 2` (it runs its own Janus
//! VideoRoom and hands each member its access) in the WAN namespace of a
//! network lab, each member on its own site behind an open router. Janus
//! never offers loopback candidates, hence the namespaces.
//!
//! Each member sends a different picture: Alice the recorded clip, Bob it
//! mirrored, Carol upside down, Dave turned, Erin as a negative, Frank the test
//! pattern; all send the recorded speech. Alice calls Bob and invites the four
//! others a second later.
//!
//! Asserts:
//! - all six exit 0, and each one's `--stats` says its media went through the
//!   SFU with the five others' feeds subscribed;
//! - each member records the five others (30 recordings, one file per member),
//!   and every recording matches its own sender's source (mean PSNR ≥ 30 dB)
//!   and not another's (each other source ≥ 6 dB worse), with at least 80 % of
//!   the frames of 10 s;
//! - audio from each of the others arrives at Alice: at least 10 s of it, and
//!   at least 80 % of its 2 s pieces correlate with the speech (≥ 0.8; a piece
//!   may slip by a lost packet, which a whole-file correlation would punish);
//! - the peer links carried chat and control, not media: each member's uplink
//!   on them is under 10 % of what it published to the SFU.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::netns::{self, Lab, Nat};
use common::sources::{
    read_wav_mono, speech_reference, transformed, write_clip, Source, Transform, FPS,
};
use common::*;
use parley_engine::media::{normalized_xcorr_best, read_y4m_all};

const NAME: &str = "six_members_see_and_hear_each_other_through_the_sfu";

/// One member: its peer, its source, the folder it records into, and the
/// arguments that make it send its source.
struct Member {
    name: &'static str,
    peer: Peer,
    source: Source,
    rec: PathBuf,
    video: Vec<String>,
}

impl Member {
    fn recording_of(&self, other: &Member) -> PathBuf {
        self.rec.join(format!("{}.y4m", other.peer.id))
    }
}

#[test]
fn six_members_see_and_hear_each_other_through_the_sfu() {
    if netns::inside() || !netns::available(NAME) {
        return;
    }
    if !std::path::Path::new("/usr/bin/janus").exists() {
        eprintln!("SKIPPED {NAME}: needs Janus (Debian package janus; CI installs it)");
        return;
    }
    let mut lab = Lab::build(&[Nat::Open; 6]);
    let (_, url) = lab.start_signal_args(&["--sfu", "janus", "--sfu-from", "2"]);
    let clip = media("chrome-320x180-15fps.y4m");
    let speech = media("jfk.wav");
    let clip_frames = read_y4m_all(&clip).unwrap();

    let member = |name: &'static str, how: Option<Transform>| {
        let peer = Peer::for_url(&url);
        let rec = peer.path("rec");
        std::fs::create_dir_all(&rec).unwrap();
        let (source, video) = match how {
            None if name == "Frank" => (
                Source::Pattern,
                vec!["--test-pattern".to_owned(), "320x180@15".to_owned()],
            ),
            None => (
                Source::Clip(clip_frames.clone()),
                vec!["--video-file".to_owned(), clip.display().to_string()],
            ),
            Some(how) => {
                let frames = transformed(&clip_frames, how);
                let path = peer.path("source.y4m");
                write_clip(&path, &frames);
                (
                    Source::Clip(frames),
                    vec!["--video-file".to_owned(), path.display().to_string()],
                )
            }
        };
        Member {
            name,
            peer,
            source,
            rec,
            video,
        }
    };
    let members = [
        member("Alice", None),
        member("Bob", Some(Transform::Mirror)),
        member("Carol", Some(Transform::Flip)),
        member("Dave", Some(Transform::Turn)),
        member("Erin", Some(Transform::Invert)),
        member("Frank", None),
    ];

    let spawn = |site: usize, m: &Member, head: Vec<String>| {
        let rec = format!("{}/", m.rec.display());
        let mut args = head;
        args.extend(m.video.iter().cloned());
        args.extend(
            [
                "--audio-file",
                speech.to_str().unwrap(),
                "--record-video",
                &rec,
                "--record-audio",
                &rec,
                "--stats",
            ]
            .map(str::to_owned),
        );
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        lab.spawn_peer(site, &m.peer, &args)
    };
    let mut runs = Vec::new();
    for (site, m) in members.iter().enumerate().skip(1) {
        let head = ["answer", "--timeout", "30", "--leave-after", "17"];
        runs.push((m.name, spawn(site, m, head.map(str::to_owned).to_vec())));
    }
    let mut call = vec!["call".to_owned(), members[1].peer.id.clone()];
    for m in &members[2..] {
        // With --invite: an id may begin with '-'.
        call.extend(["--invite".to_owned(), m.peer.id.clone()]);
    }
    call.extend(
        [
            "--wait-online",
            "20",
            "--duration",
            "15",
            "--invite-at",
            "1",
        ]
        .map(str::to_owned),
    );
    let alice_run = spawn(0, &members[0], call);
    let mut children = vec![("Alice", alice_run, Duration::from_secs(60))];
    children.extend(
        runs.into_iter()
            .map(|(name, child)| (name, child, Duration::from_secs(15))),
    );
    let outs: Vec<_> = wait_each(children).into_iter().map(|(o, _)| o).collect();
    let mut stdout = Vec::new();
    for (out, m) in outs.iter().zip(&members) {
        stdout.push(success(out, m.name));
    }

    // Every member's media went through the SFU, with the five others' feeds.
    for ((text, m), out) in stdout.iter().zip(&members).zip(&outs) {
        let s = stats(text);
        let sfu = &s["sfu"];
        assert!(
            sfu.is_object(),
            "{}'s stats show no SFU: {s}\n{}\nserver:\n{}",
            m.name,
            String::from_utf8_lossy(&out.stderr),
            lab.read_log("parley-signal.log")
        );
        for other in members.iter().filter(|o| o.peer.id != m.peer.id) {
            assert!(
                sfu["feeds"][&other.peer.id].is_u64(),
                "{} did not receive {} through the SFU: {sfu}",
                m.name,
                other.name
            );
        }
        let published = sfu["publisher_bytes_sent"].as_u64().unwrap_or(0);
        let on_links = s["uplink_bytes"].as_u64().unwrap_or(u64::MAX);
        println!(
            "{}: {published} bytes to the SFU, {on_links} on the peer links",
            m.name
        );
        assert!(
            on_links * 10 < published,
            "{}'s peer links carried {on_links} bytes, the SFU {published}",
            m.name
        );
    }

    // Video: 30 recordings, each its sender's and nobody else's.
    let least = (0.8 * FPS * 10.0) as usize;
    for at in &members {
        for of in members.iter().filter(|o| o.peer.id != at.peer.id) {
            let what = format!("{}'s recording of {}", at.name, of.name);
            let path = at.recording_of(of);
            assert!(path.exists(), "{what}: missing");
            let frames = read_y4m_all(&path).unwrap();
            assert!(
                frames.len() >= least,
                "{what}: {} frames, fewer than 80 % of 10 s",
                frames.len()
            );
            let own = of.source.mean_db(&frames);
            let best_other = members
                .iter()
                .filter(|m| m.peer.id != of.peer.id)
                .map(|m| (m.name, m.source.mean_db(&frames)))
                .fold(("", f64::MIN), |a, b| if b.1 > a.1 { b } else { a });
            println!(
                "{what}: {} frames, {own:.1} dB (best other: {} at {:.1} dB)",
                frames.len(),
                best_other.0,
                best_other.1
            );
            assert!(own >= 30.0, "{what}: {own:.1} dB against its source");
            assert!(
                best_other.1 <= own - 6.0,
                "{what} looks like {}'s source too ({:.1} dB)",
                best_other.0,
                best_other.1
            );
        }
    }

    // Audio from each of the others arrives at Alice.
    // The speech plays in a loop, and a subscriber hears a member from when
    // its subscription starts: compare with the loop played twice, at any lag
    // within one play (printed; each piece is what is asserted).
    let speech_once = speech_reference(&speech);
    let reference = [speech_once.as_slice(), speech_once.as_slice()].concat();
    for of in &members[1..] {
        let path = members[0].rec.join(format!("{}.wav", of.peer.id));
        let recorded = read_wav_mono(&path);
        let (ncc, lag) = normalized_xcorr_best(&recorded, &reference, speech_once.len());
        let pieces = lag_track(&recorded, &reference);
        let good = pieces.iter().filter(|(ncc, _)| *ncc >= 0.8).count();
        println!(
            "Alice's audio of {}: correlation {ncc:.3} at lag {lag}, {good} of {} 2 s pieces ≥ 0.8",
            of.name,
            pieces.len()
        );
        assert!(
            recorded.len() >= 48_000 * 10 && good * 10 >= pieces.len() * 8,
            "Alice's audio of {}: {:.1} s, by 2 s piece (correlation, lag s): {pieces:?}",
            of.name,
            recorded.len() as f64 / 48_000.0,
        );
    }
}

/// The best correlation and lag (s) of each whole 2 s piece of `recorded` against
/// `reference`: where a recording jumps or stalls.
fn lag_track(recorded: &[f32], reference: &[f32]) -> Vec<(f64, f64)> {
    recorded
        .chunks_exact(96_000)
        .map(|piece| {
            let (ncc, lag) = normalized_xcorr_best(piece, reference, reference.len());
            ((ncc * 100.0).round() / 100.0, lag as f64 / 48_000.0)
        })
        .collect()
}
