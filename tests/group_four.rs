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

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use parley_engine::media::{
    normalized_xcorr_best, read_y4m_all, I420Frame, TestPatternSource, Y4mRecorder,
};

const FPS: f64 = 15.0;
const W: u32 = 320;
const H: u32 = 180;

/// What a member sends, as the test knows it.
enum Source {
    /// Frames of a clip, played in a loop.
    Clip(Vec<I420Frame>),
    /// Parley's test pattern: each frame shows its index.
    Pattern,
}

/// Luma PSNR on every 4th pixel of every 4th row, dB (cheap enough to compare
/// each received frame with a whole clip).
fn psnr_sparse(a: &I420Frame, b: &I420Frame) -> f64 {
    if (a.width, a.height) != (b.width, b.height) {
        return 0.0;
    }
    let w = a.width as usize;
    let (mut sse, mut n) = (0u64, 0u64);
    for y in (0..a.height as usize).step_by(4) {
        for x in (0..w).step_by(4) {
            let d = i64::from(a.y()[y * w + x]) - i64::from(b.y()[y * w + x]);
            sse += (d * d) as u64;
            n += 1;
        }
    }
    if sse == 0 {
        return 100.0;
    }
    10.0 * (255.0f64 * 255.0 * n as f64 / sse as f64).log10()
}

impl Source {
    /// How well `frame` matches this source, dB.
    fn match_db(&self, frame: &I420Frame) -> f64 {
        match self {
            Source::Clip(frames) => frames
                .iter()
                .map(|s| psnr_sparse(s, frame))
                .fold(f64::MIN, f64::max),
            Source::Pattern => {
                let pattern = TestPatternSource::new(W, H, FPS).unwrap();
                psnr_sparse(
                    &pattern.render(TestPatternSource::shown_index(frame)),
                    frame,
                )
            }
        }
    }

    /// Mean match over every 5th frame of `frames`, dB.
    fn mean_db(&self, frames: &[I420Frame]) -> f64 {
        let picked: Vec<&I420Frame> = frames.iter().step_by(5).collect();
        picked.iter().map(|f| self.match_db(f)).sum::<f64>() / picked.len() as f64
    }
}

/// `frames` mirrored left to right (`mirror`) or turned upside down.
fn transformed(frames: &[I420Frame], mirror: bool) -> Vec<I420Frame> {
    frames
        .iter()
        .map(|f| {
            let mut out = f.clone();
            let (cw, ch) = (f.chroma_width(), f.chroma_height());
            let (w, h) = (f.width as usize, f.height as usize);
            let planes = [(f.y(), w, h), (f.u(), cw, ch), (f.v(), cw, ch)];
            let (y, u, v) = out.planes_mut();
            for ((src, pw, ph), dst) in planes.into_iter().zip([y, u, v]) {
                for row in 0..ph {
                    for col in 0..pw {
                        let (sx, sy) = if mirror {
                            (pw - 1 - col, row)
                        } else {
                            (col, ph - 1 - row)
                        };
                        dst[row * pw + col] = src[sy * pw + sx];
                    }
                }
            }
            out
        })
        .collect()
}

fn write_clip(path: &Path, frames: &[I420Frame]) {
    let mut rec = Y4mRecorder::create(path, FPS as u32).unwrap();
    for f in frames {
        rec.write(f).unwrap();
    }
    rec.finish().unwrap();
}

fn read_wav_mono(path: &Path) -> Vec<f32> {
    let mut r = hound::WavReader::open(path).unwrap();
    r.samples::<i16>()
        .map(|s| s.unwrap() as f32 / 32768.0)
        .collect()
}

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
    let bob = member("Bob", Source::Clip(transformed(&clip_frames, true)));
    let carol = member("Carol", Source::Clip(transformed(&clip_frames, false)));
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
    let mut src = parley_engine::media::WavFileSource::open(&speech, false).unwrap();
    src.set_paced(false);
    let mut reference = Vec::new();
    while let Ok(frame) = parley_engine::media::AudioSource::next_frame(&mut src) {
        reference.extend_from_slice(&frame);
    }
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
