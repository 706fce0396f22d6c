//! A one-to-one call that grows into a group call through the SFU: the real
//! `parley-signal --sfu janus --sfu-from 5` in the WAN namespace of a network
//! lab, five `parley-cli` members each on its own site. Alice calls Bob; 4 s
//! later she invites Carol, Dave and Erin. Carol and Dave are invited into a
//! mesh; Erin's invitation makes five members, so the server opens a room and
//! every member's media moves to the SFU: Alice's and Bob's mid-call, from the
//! mesh they had.
//!
//! Asserts:
//! - all five exit 0, and each one's `--stats` says its media went through the
//!   SFU with the four others' feeds subscribed;
//! - Alice's recording of Bob and Bob's of Alice go on across the switch in one
//!   file: at least 80 % of the frames of 13 s, each its sender's source
//!   (mean PSNR ≥ 30 dB, every other source ≥ 6 dB worse);
//! - every other recording (20 in all) likewise, with 80 % of the frames of 8 s;
//! - Alice hears Bob across the switch (the speech in ≥ 80 % of 2 s pieces,
//!   two of them, where the audio moves to the SFU, may correlate less, ≥ 0.5);
//! - Dave's chat message, sent once he joined after the switch, reaches the
//!   member whose chat channel opened first, over their peer link (the SFU
//!   carries no data).

mod common;

use std::time::Duration;

use common::group::{check_sfu_stats, most_frames_of, Look, Member};
use common::netns::{self, Lab, Nat};
use common::sources::Transform;
use common::*;
use parley_engine::media::read_y4m_all;

const NAME: &str = "a_call_that_reaches_five_members_moves_to_the_sfu";
const CHAT: &str = "hello from Dave, after the switch";

#[test]
fn a_call_that_reaches_five_members_moves_to_the_sfu() {
    if netns::inside() || !netns::janus_available(NAME) {
        return;
    }
    let mut lab = Lab::build(&[Nat::Open; 5]);
    let (_, url) = lab.start_signal_args(&["--sfu", "janus", "--sfu-from", "5"]);
    let clip = media("chrome-320x180-15fps.y4m");
    let speech = media("jfk.wav");
    let frames = read_y4m_all(&clip).unwrap();
    let member = |name, look| Member::new(name, &url, look, &clip, &frames);
    let members = [
        member("Alice", Look::Clip(None)),
        member("Bob", Look::Clip(Some(Transform::Mirror))),
        member("Carol", Look::Clip(Some(Transform::Flip))),
        member("Dave", Look::Clip(Some(Transform::Turn))),
        member("Erin", Look::Pattern),
    ];

    let spawn = |site: usize, head: &[&str]| {
        let head: Vec<String> = head.iter().map(|s| (*s).to_owned()).collect();
        let args = members[site].args(&head, &speech);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        lab.spawn_peer(site, &members[site].peer, &args)
    };
    let mut children = Vec::new();
    for (site, m) in members.iter().enumerate().skip(1) {
        let mut answer = vec!["answer", "--timeout", "30", "--leave-after", "18"];
        if m.name == "Dave" {
            answer.extend(["--chat", CHAT]);
        }
        children.push((m.name, spawn(site, &answer), Duration::from_secs(20)));
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
        "16",
        "--invite-at",
        "4",
    ]);
    children.insert(0, ("Alice", spawn(0, &call), Duration::from_secs(60)));
    let outs: Vec<_> = wait_each(children).into_iter().map(|(o, _)| o).collect();

    let server_log = || format!("server:\n{}", lab.read_log("parley-signal.log"));
    let mut printed = Vec::new();
    for (out, m) in outs.iter().zip(&members) {
        let (stdout, _) = check_sfu_stats(out, m, &members, server_log);
        printed.push(stdout);
    }
    // A message given on the command line goes to the first member whose chat
    // channel opens.
    let got: Vec<&str> = members
        .iter()
        .zip(&printed)
        .filter(|(_, out)| chats(out).iter().any(|c| c.contains(CHAT)))
        .map(|(m, _)| m.name)
        .collect();
    assert!(
        got.len() == 1 && got[0] != "Dave",
        "Dave's message reached {got:?}, not one other member"
    );

    // Alice and Bob across the switch; everyone from the switch on.
    for at in &members {
        for of in members.iter().filter(|o| o.peer.id != at.peer.id) {
            let both_from_the_start =
                matches!(at.name, "Alice" | "Bob") && matches!(of.name, "Alice" | "Bob");
            let secs = if both_from_the_start { 13.0 } else { 8.0 };
            at.check_video_of(of, &members, most_frames_of(secs));
        }
    }
    // Two pieces may be spliced where Bob's audio moves to the SFU.
    members[0].check_audio_of(&members[1], &speech, 2);
}
