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
//! - audio from each of the others arrives at Alice: at least 10 s of it, and at
//!   least 80 % of its 2 s pieces correlate with the speech (≥ 0.8, or two of
//!   them ≥ 0.5 while the feeds start together);
//! - the peer links carried chat and control, not media: each member's uplink
//!   on them is under 10 % of what it published to the SFU.

mod common;

use std::time::Duration;

use common::group::{check_sfu_stats, most_frames_of, Look, Member};
use common::netns::{self, Lab, Nat};
use common::sources::Transform;
use common::*;
use parley_engine::media::read_y4m_all;

const NAME: &str = "six_members_see_and_hear_each_other_through_the_sfu";

#[test]
fn six_members_see_and_hear_each_other_through_the_sfu() {
    if netns::inside() || !netns::janus_available(NAME) {
        return;
    }
    let mut lab = Lab::build(&[Nat::Open; 6]);
    let (_, url) = lab.start_signal_args(&["--sfu", "janus", "--sfu-from", "2"]);
    let clip = media("chrome-320x180-15fps.y4m");
    let speech = media("jfk.wav");
    let frames = read_y4m_all(&clip).unwrap();
    let member = |name, look| Member::new(name, &url, look, &clip, &frames);
    let members = [
        member("Alice", Look::Clip(None)),
        member("Bob", Look::Clip(Some(Transform::Mirror))),
        member("Carol", Look::Clip(Some(Transform::Flip))),
        member("Dave", Look::Clip(Some(Transform::Turn))),
        member("Erin", Look::Clip(Some(Transform::Invert))),
        member("Frank", Look::Pattern),
    ];

    let spawn = |site: usize, head: &[&str]| {
        let head: Vec<String> = head.iter().map(|s| (*s).to_owned()).collect();
        let args = members[site].args(&head, &speech);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        lab.spawn_peer(site, &members[site].peer, &args)
    };
    let mut children = Vec::new();
    for (site, m) in members.iter().enumerate().skip(1) {
        let answer = ["answer", "--timeout", "30", "--leave-after", "17"];
        children.push((m.name, spawn(site, &answer), Duration::from_secs(15)));
    }
    let mut call = vec!["call", &members[1].peer.id];
    for m in &members[2..] {
        // With --invite: an id may begin with '-'.
        call.extend(["--invite", &m.peer.id]);
    }
    call.extend([
        "--wait-online",
        "20",
        "--duration",
        "15",
        "--invite-at",
        "1",
    ]);
    children.insert(0, ("Alice", spawn(0, &call), Duration::from_secs(60)));
    let outs: Vec<_> = wait_each(children).into_iter().map(|(o, _)| o).collect();

    // Every member's media went through the SFU, with the five others' feeds.
    let server_log = || format!("server:\n{}", lab.read_log("parley-signal.log"));
    for (out, m) in outs.iter().zip(&members) {
        let (_, s) = check_sfu_stats(out, m, &members, server_log);
        let sfu = &s["sfu"];
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
    for at in &members {
        for of in members.iter().filter(|o| o.peer.id != at.peer.id) {
            at.check_video_of(of, &members, most_frames_of(10.0));
        }
    }
    // Audio from each of the others arrives at Alice. Alice subscribes to
    // four feeds at once while their senders set up theirs, eight processes
    // on two cores: the first seconds of a feed may come stretched while its
    // jitter buffer settles (one clean-clone CI run: 0.45, 0.61, 0.75, then
    // 0.97-0.98), so two pieces in 0.5-0.8 count as heard.
    for of in &members[1..] {
        members[0].check_audio_of(of, &speech, 2);
    }
}
