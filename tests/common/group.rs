//! Members of the group-call tests through the SFU: each a `parley-cli` peer
//! with a picture of its own (tests/common/sources.rs) and the recorded speech,
//! recording every other member into a folder; and the checks on what each
//! recorded.

use std::path::{Path, PathBuf};

use parley_engine::media::{normalized_xcorr_best, read_y4m_all, I420Frame};

use super::sources::{read_wav_mono, speech_reference, transformed, write_clip, Source};
use super::sources::{Transform, FPS};
use super::Peer;

/// One member: its peer, its source, the folder it records into, and the
/// arguments that make it send its source.
pub struct Member {
    pub name: &'static str,
    pub peer: Peer,
    pub source: Source,
    pub rec: PathBuf,
    pub video: Vec<String>,
}

/// What a member shows.
#[derive(Clone, Copy)]
pub enum Look {
    /// The recorded clip, changed by the transform if any.
    Clip(Option<Transform>),
    /// The test pattern.
    Pattern,
}

impl Member {
    /// A member `name` on the server at `url`, showing `look` (of the clip at
    /// `clip`, whose frames are `frames`).
    pub fn new(
        name: &'static str,
        url: &str,
        look: Look,
        clip: &Path,
        frames: &[I420Frame],
    ) -> Member {
        let peer = Peer::for_url(url);
        let rec = peer.path("rec");
        std::fs::create_dir_all(&rec).unwrap();
        let file = |path: &Path| vec!["--video-file".to_owned(), path.display().to_string()];
        let (source, video) = match look {
            Look::Pattern => (
                Source::Pattern,
                vec!["--test-pattern".to_owned(), "320x180@15".to_owned()],
            ),
            Look::Clip(None) => (Source::Clip(frames.to_vec()), file(clip)),
            Look::Clip(Some(how)) => {
                let changed = transformed(frames, how);
                let path = peer.path("source.y4m");
                write_clip(&path, &changed);
                (Source::Clip(changed), file(&path))
            }
        };
        Member {
            name,
            peer,
            source,
            rec,
            video,
        }
    }

    /// `head` (`call ...` or `answer ...`) followed by this member's video, the
    /// speech, its recordings and `--stats`.
    pub fn args(&self, head: &[String], speech: &Path) -> Vec<String> {
        let rec = format!("{}/", self.rec.display());
        let mut args = head.to_vec();
        args.extend(self.video.iter().cloned());
        let tail = [
            "--audio-file",
            speech.to_str().unwrap(),
            "--record-video",
            &rec,
            "--record-audio",
            &rec,
            "--stats",
        ];
        args.extend(tail.map(str::to_owned));
        args
    }

    /// This member's recording of `other`'s video.
    pub fn recording_of(&self, other: &Member) -> PathBuf {
        self.rec.join(format!("{}.y4m", other.peer.id))
    }

    /// Checks this member's recording of `of`: at least `least` frames, each
    /// `of`'s own source (mean PSNR ≥ 30 dB) and not another member's (each
    /// other source ≥ 6 dB worse). Prints what it found.
    pub fn check_video_of(&self, of: &Member, members: &[Member], least: usize) {
        let what = format!("{}'s recording of {}", self.name, of.name);
        let path = self.recording_of(of);
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
        assert!(
            frames.len() >= least,
            "{what}: {} frames, fewer than {least}",
            frames.len()
        );
        assert!(own >= 30.0, "{what}: {own:.1} dB against its source");
        assert!(
            best_other.1 <= own - 6.0,
            "{what} looks like {}'s source too ({:.1} dB)",
            best_other.0,
            best_other.1
        );
    }

    /// Checks this member's recording of `of`'s audio against the speech at
    /// `speech` (played in a loop): at least 10 s, and at least 80 % of its
    /// whole 2 s pieces correlate with it (≥ 0.8; a piece may slip by a lost
    /// packet, which a whole-file correlation would punish). `spliced` pieces
    /// more may correlate less, down to 0.5 (still the speech: silence or
    /// another source stays below 0.3), where the audio moved from one path
    /// to another (mesh to SFU: a new jitter buffer settles over a second or
    /// two, dropping or stretching a few 20 ms frames). Prints what it found.
    pub fn check_audio_of(&self, of: &Member, speech: &Path, spliced: usize) {
        // A subscriber hears a member from when its subscription starts:
        // compare with the loop played twice, at any lag within one play.
        let once = speech_reference(speech);
        let reference = [once.as_slice(), once.as_slice()].concat();
        let path = self.rec.join(format!("{}.wav", of.peer.id));
        let recorded = read_wav_mono(&path);
        let (ncc, lag) = normalized_xcorr_best(&recorded, &reference, once.len());
        let pieces = lag_track(&recorded, &reference);
        let spliced = pieces
            .iter()
            .filter(|(ncc, _)| (0.5..0.8).contains(ncc))
            .count()
            .min(spliced);
        let clean = pieces.iter().filter(|(ncc, _)| *ncc >= 0.8).count();
        let good = clean + spliced;
        println!(
            "{}'s audio of {}: correlation {ncc:.3} at lag {lag}, {clean} of {} 2 s pieces ≥ 0.8, {spliced} counted as spliced (0.5–0.8)",
            self.name,
            of.name,
            pieces.len()
        );
        assert!(
            recorded.len() >= 48_000 * 10 && good * 10 >= pieces.len() * 8,
            "{}'s audio of {}: {:.1} s, by 2 s piece (correlation, lag s): {pieces:?}",
            self.name,
            of.name,
            recorded.len() as f64 / 48_000.0,
        );
    }
}

/// Checks that `out` (this member's run) exited 0 and that its `--stats` say
/// its media went through the SFU (and it said so) with every other member's
/// feed subscribed (`why` is shown otherwise: the server's log, say). Returns
/// its stdout and its stats.
pub fn check_sfu_stats(
    out: &std::process::Output,
    m: &Member,
    members: &[Member],
    why: impl Fn() -> String,
) -> (String, serde_json::Value) {
    let stdout = super::success(out, m.name);
    let s = super::stats(&stdout);
    let sfu = &s["sfu"];
    assert!(
        sfu.is_object(),
        "{}'s stats show no SFU: {s}\n{}\n{}",
        m.name,
        String::from_utf8_lossy(&out.stderr),
        why()
    );
    // What the app shows as "Through the server" (`CallEvent::MediaPath`).
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .any(|l| l == "media goes through the SFU"),
        "{} never said its media goes through the SFU",
        m.name
    );
    for other in members.iter().filter(|o| o.peer.id != m.peer.id) {
        assert!(
            sfu["feeds"][&other.peer.id].is_u64(),
            "{} did not receive {} through the SFU: {sfu}",
            m.name,
            other.name
        );
    }
    (stdout, s)
}

/// At least 80 % of the frames of `secs` seconds at [`FPS`].
pub fn most_frames_of(secs: f64) -> usize {
    (0.8 * FPS * secs) as usize
}

/// The best correlation and lag (s) of each whole 2 s piece of `recorded`
/// against `reference`: where a recording jumps or stalls.
fn lag_track(recorded: &[f32], reference: &[f32]) -> Vec<(f64, f64)> {
    recorded
        .chunks_exact(96_000)
        .map(|piece| {
            let (ncc, lag) = normalized_xcorr_best(piece, reference, reference.len());
            ((ncc * 100.0).round() / 100.0, lag as f64 / 48_000.0)
        })
        .collect()
}
