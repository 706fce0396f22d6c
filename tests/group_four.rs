//! A mesh call of four `parley-cli` processes, each sending a different picture:
//! Alice the recorded clip, Bob the clip mirrored, Carol the clip upside down,
//! Dave the test pattern; all four send the recorded speech. Alice calls all
//! three at once (`call BOB CAROL DAVE`: Bob first, then the others invited).
//!
//! Asserts:
//! - each member records the three others (12 recordings, one file per member),
//!   and every recording matches its own sender's source (mean PSNR ≥ 30 dB)
//!   and not another's (each other source ≥ 6 dB worse), with at least 80 % of
//!   the frames sent while both were in the call;
//! - audio from each of the others arrives at Alice: her recording of each
//!   correlates with the speech (≥ 0.6);
//! - Dave leaves after 8 s; Alice, Bob and Carol carry on for 5 s more with
//!   media flowing; then Alice hangs up, Bob leaves, and all four exit 0.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::sources::{
    read_wav_mono, speech_reference, transformed, write_clip, Source, Transform, FPS,
};
use common::*;
use parley_engine::media::{normalized_xcorr_best, read_y4m_all};

/// One member: its peer, its source and the folder it records into.
struct Member {
    name: &'static str,
    peer: Peer,
    source: Source,
    rec: PathBuf,
}

impl Member {
    fn recording_of(&self, other: &Member) -> PathBuf {
        self.rec.join(format!("{}.y4m", other.peer.id))
    }
}

#[test]
fn four_members_each_see_the_three_others_and_three_carry_on() {
    let server = Server::start();
    let clip = media("chrome-320x180-15fps.y4m");
    let speech = media("jfk.wav");
    let clip_frames = read_y4m_all(&clip).unwrap();
    let member = |name, source| {
        let peer = Peer::new(&server);
        let rec = peer.path("rec");
        std::fs::create_dir_all(&rec).unwrap();
        Member {
            name,
            peer,
            source,
            rec,
        }
    };
    let alice = member("Alice", Source::Clip(clip_frames.clone()));
    let bob = member(
        "Bob",
        Source::Clip(transformed(&clip_frames, Transform::Mirror)),
    );
    let carol = member(
        "Carol",
        Source::Clip(transformed(&clip_frames, Transform::Flip)),
    );
    let dave = member("Dave", Source::Pattern);
    let (mirrored, flipped) = (
        bob.peer.path("mirrored.y4m"),
        carol.peer.path("flipped.y4m"),
    );
    for (path, m) in [(&mirrored, &bob), (&flipped, &carol)] {
        let Source::Clip(frames) = &m.source else {
            unreachable!()
        };
        write_clip(path, frames);
    }

    let (speech_s, clip_s) = (speech.to_str().unwrap(), clip.to_str().unwrap());
    let common_args = |m: &Member| -> Vec<String> {
        let rec = format!("{}/", m.rec.display());
        let rec = rec.as_str();
        [
            "--audio-file",
            speech_s,
            "--record-video",
            rec,
            "--record-audio",
            rec,
            "--stats",
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let spawn = |m: &Member, mut args: Vec<String>, video: &[&str]| {
        args.extend(video.iter().map(|s| (*s).to_owned()));
        args.extend(common_args(m));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        m.peer.spawn(&args)
    };
    let answer = |extra: &[&str]| -> Vec<String> {
        ["answer", "--timeout", "30"]
            .iter()
            .chain(extra)
            .map(|s| (*s).to_owned())
            .collect()
    };
    let bob_run = spawn(
        &bob,
        answer(&["--leave-after", "18"]),
        &["--video-file", mirrored.to_str().unwrap()],
    );
    let carol_run = spawn(
        &carol,
        answer(&[]),
        &["--video-file", flipped.to_str().unwrap()],
    );
    let dave_run = spawn(
        &dave,
        answer(&["--leave-after", "8"]),
        &["--test-pattern", "320x180@15"],
    );
    let call: Vec<String> = [
        "call",
        &bob.peer.id,
        // With --invite: an id may begin with '-', which as a further
        // positional argument would read as an option.
        "--invite",
        &carol.peer.id,
        "--invite",
        &dave.peer.id,
        "--wait-online",
        "20",
        "--duration",
        "15",
        "--invite-at",
        "1",
    ]
    .map(str::to_owned)
    .to_vec();
    let alice_run = spawn(&alice, call, &["--video-file", clip_s]);

    let mut outs = wait_each(vec![
        ("alice", alice_run, Duration::from_secs(60)),
        ("dave", dave_run, Duration::from_secs(10)),
        ("bob", bob_run, Duration::from_secs(20)),
        ("carol", carol_run, Duration::from_secs(15)),
    ])
    .into_iter()
    .map(|(out, _)| out);
    let mut next = || outs.next().unwrap();
    let (alice_out, dave_out, bob_out, carol_out) = (next(), next(), next(), next());
    for (out, who) in [
        (&alice_out, "alice"),
        (&bob_out, "bob"),
        (&carol_out, "carol"),
        (&dave_out, "dave"),
    ] {
        success(out, who);
    }

    // Video: 12 recordings, each its sender's and nobody else's.
    let members = [&alice, &bob, &carol, &dave];
    let mut frames_of = std::collections::HashMap::new();
    for at in members {
        for of in members {
            if at.peer.id == of.peer.id {
                continue;
            }
            let what = format!("{}'s recording of {}", at.name, of.name);
            let path = at.recording_of(of);
            assert!(path.exists(), "{what}: missing");
            let frames = read_y4m_all(&path).unwrap();
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
            frames_of.insert((at.name, of.name), frames.len());
        }
    }
    // At least 80 % of the frames sent while both were in the call, at 15
    // frames/s: Dave was in from about 1.5 s to 9 s, Carol from 1.5 s to 18 s.
    let least = |secs: f64| (0.8 * FPS * secs) as usize;
    for ((at, of), n) in &frames_of {
        let both_in = match (*at, *of) {
            ("Dave", _) | (_, "Dave") => 6.5,
            ("Alice", "Bob") | ("Bob", "Alice") => 14.0,
            ("Bob", "Carol") | ("Carol", "Bob") => 15.0,
            _ => 12.5,
        };
        assert!(
            *n >= least(both_in),
            "{at}'s recording of {of}: {n} frames, fewer than 80 % of {both_in} s"
        );
    }
    // After Dave left, the three went on: 5 s more at 15 frames/s.
    for (at, of) in [("Alice", "Bob"), ("Alice", "Carol"), ("Bob", "Carol")] {
        let (n, dave_n) = (frames_of[&(at, of)], frames_of[&(at, "Dave")]);
        assert!(
            n >= dave_n + least(5.0),
            "{at}'s recording of {of} ({n} frames) is not 5 s longer than of Dave ({dave_n})"
        );
    }

    // Audio from each of the others arrives at Alice.
    let reference = speech_reference(&speech);
    for of in [&bob, &carol, &dave] {
        let path = alice.rec.join(format!("{}.wav", of.peer.id));
        let recorded = read_wav_mono(&path);
        let (ncc, lag) = normalized_xcorr_best(&recorded, &reference, 48_000 * 3);
        println!(
            "Alice's audio of {}: correlation {ncc:.3} at lag {lag}",
            of.name
        );
        assert!(
            ncc >= 0.6,
            "Alice's audio of {}: correlation {ncc:.2}",
            of.name
        );
    }
}
