use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{starts_access_unit, AssembledFrame, FrameAssembler};

const START: &[u8] = &[0, 0, 0, 1];

/// One frame as RTP payloads: a single-NAL packet (an SPS-like NAL, type 7),
/// then `fragments` FU-A fragments of one IDR slice (type 5); with their
/// expected depacketized access unit.
fn frame(tag: u8, fragments: usize) -> (Vec<Bytes>, Vec<u8>) {
    let sps = vec![0x67, tag, tag];
    let mut payloads = vec![Bytes::from(sps.clone())];
    let mut au = [START, &sps].concat();
    let mut slice = vec![0x65];
    for i in 0..fragments {
        let mut fu = vec![0x7C, 0x05];
        if i == 0 {
            fu[1] |= 0x80; // start
        }
        if i + 1 == fragments {
            fu[1] |= 0x40; // end
        }
        let body = [tag, i as u8, 0xAA];
        fu.extend_from_slice(&body);
        slice.extend_from_slice(&body);
        payloads.push(Bytes::from(fu));
    }
    au.extend_from_slice(START);
    au.extend_from_slice(&slice);
    (payloads, au)
}

struct Sent {
    seq: u16,
    ts: u32,
    marker: bool,
    payload: Bytes,
}

/// RTP packets for `frames` (tag, fragments) from `seq`, 3000 ticks apart,
/// the marker on each frame's last packet; with the expected access units.
fn packets(seq: u16, frames: &[(u8, usize)]) -> (Vec<Sent>, Vec<Vec<u8>>) {
    let (mut out, mut aus, mut seq) = (Vec::new(), Vec::new(), seq);
    for (n, &(tag, fragments)) in frames.iter().enumerate() {
        let (payloads, au) = frame(tag, fragments);
        let last = payloads.len() - 1;
        for (i, payload) in payloads.into_iter().enumerate() {
            out.push(Sent {
                seq,
                ts: 3000 * n as u32,
                marker: i == last,
                payload,
            });
            seq = seq.wrapping_add(1);
        }
        aus.push(au);
    }
    (out, aus)
}

fn push(a: &mut FrameAssembler, now: Instant, p: &Sent) {
    a.push(now, p.seq, p.ts, p.marker, p.payload.clone());
}

fn drain(a: &mut FrameAssembler, now: Instant) -> Vec<AssembledFrame> {
    std::iter::from_fn(|| a.pop(now)).collect()
}

fn assembler() -> FrameAssembler {
    FrameAssembler::new(Duration::from_millis(300), 512)
}

#[test]
fn a_frame_is_released_at_its_marker_without_waiting_for_the_next() {
    let now = Instant::now();
    let mut a = assembler();
    let (ps, aus) = packets(100, &[(1, 3), (2, 1)]);
    for p in &ps[..3] {
        push(&mut a, now, p);
        assert_eq!(a.pop(now), None, "incomplete");
    }
    push(&mut a, now, &ps[3]);
    let f = a.pop(now).expect("complete at its marker");
    assert_eq!(f.data, aus[0]);
    assert_eq!((f.rtp_timestamp, f.loss_before), (0, false));
    for p in &ps[4..] {
        push(&mut a, now, p);
    }
    let f = a.pop(now).unwrap();
    assert_eq!((f.data.to_vec(), f.rtp_timestamp), (aus[1].clone(), 3000));
    assert_eq!(a.pop(now), None);
}

#[test]
fn reordered_packets_and_sequence_wrap_give_the_same_frames() {
    let now = Instant::now();
    let mut a = assembler();
    let (ps, aus) = packets(65_533, &[(1, 4), (2, 2), (3, 1)]);
    // After the very first packet, each frame's packets arrive backwards; a
    // duplicate on the way.
    let order: Vec<usize> = vec![0, 4, 2, 3, 1, 4, 7, 6, 5, 9, 8];
    let mut got = Vec::new();
    for i in order {
        push(&mut a, now, &ps[i]);
        got.extend(drain(&mut a, now));
    }
    let data: Vec<Vec<u8>> = got.iter().map(|f| f.data.to_vec()).collect();
    assert_eq!(data, aus);
    assert!(got.iter().all(|f| !f.loss_before));
}

#[test]
fn a_resent_packet_completes_its_frame_and_late_copies_are_ignored() {
    let t0 = Instant::now();
    let mut a = assembler();
    let (ps, aus) = packets(7, &[(1, 3), (2, 2)]);
    for (i, p) in ps.iter().enumerate() {
        if i != 2 {
            push(&mut a, t0, p);
        }
    }
    let later = t0 + Duration::from_millis(100);
    assert_eq!(a.pop(later), None, "waits for the missing packet");
    push(&mut a, later, &ps[2]); // the NACK's resend
    let got = drain(&mut a, later);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].data, aus[0]);
    assert_eq!(got[1].data, aus[1]);
    push(&mut a, later, &ps[2]); // a second resend, too late
    assert!(drain(&mut a, later).is_empty());
}

#[test]
fn a_frame_missing_a_packet_is_dropped_after_the_delay_and_the_next_says_so() {
    let t0 = Instant::now();
    let mut a = assembler();
    let (ps, aus) = packets(1_000, &[(1, 3), (2, 3), (3, 2)]);
    for (i, p) in ps.iter().enumerate() {
        if i != 5 {
            // the second frame's first fragment
            push(&mut a, t0, p);
        }
    }
    let got = drain(&mut a, t0);
    assert_eq!(got.len(), 1, "the first frame only, the second waits");
    assert!(drain(&mut a, t0 + Duration::from_millis(299)).is_empty());
    let got = drain(&mut a, t0 + Duration::from_millis(301));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data, aus[2]);
    assert!(got[0].loss_before, "the receiver should ask for a keyframe");
}

#[test]
fn the_deadline_says_when_a_waiting_frame_is_given_up_without_another_packet() {
    let t0 = Instant::now();
    let mut a = assembler();
    let (ps, aus) = packets(40, &[(1, 3), (2, 3), (3, 2)]);
    // The second frame's first fragment is lost; the third frame is in.
    for (i, p) in ps.iter().enumerate() {
        if i != 5 {
            push(&mut a, t0 + Duration::from_millis(i as u64), p);
        }
    }
    assert_eq!(drain(&mut a, t0).len(), 1);
    // The clock runs from the first packet after the gap (the 7th, at 6 ms).
    let at = a.deadline().expect("a frame waits for a missing packet");
    assert_eq!(at, t0 + Duration::from_millis(6 + 300 + 1));
    assert!(drain(&mut a, at - Duration::from_millis(2)).is_empty());
    let got = drain(&mut a, at);
    assert_eq!(
        got.len(),
        1,
        "given up at the deadline with no packet since"
    );
    assert_eq!(got[0].data, aus[2]);
    assert!(got[0].loss_before);
    assert_eq!(a.deadline(), None, "nothing held");
}

#[test]
fn a_frame_still_arriving_has_no_deadline() {
    let t0 = Instant::now();
    let mut a = assembler();
    let (ps, _) = packets(9, &[(1, 4)]);
    for p in &ps[..3] {
        push(&mut a, t0, p);
    }
    assert!(drain(&mut a, t0).is_empty());
    assert_eq!(a.deadline(), None, "only its next packet can complete it");
}

#[test]
fn too_many_packets_held_give_up_at_once() {
    let t0 = Instant::now();
    let mut a = FrameAssembler::new(Duration::from_secs(10), 4);
    let (ps, aus) = packets(0, &[(1, 3), (2, 3)]);
    for (i, p) in ps.iter().enumerate() {
        if i != 2 {
            push(&mut a, t0, p); // the first frame's second fragment never comes
        }
    }
    let got = drain(&mut a, t0);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data, aus[1]);
    assert!(got[0].loss_before);
}

#[test]
fn joining_mid_frame_starts_at_the_next_frame_and_padding_is_not_loss() {
    let now = Instant::now();
    let mut a = assembler();
    let (ps, aus) = packets(50, &[(1, 3), (2, 2), (3, 1)]);
    // The first two packets of the first frame were never received.
    for p in &ps[2..] {
        push(&mut a, now, p);
    }
    let got = drain(&mut a, now);
    let data: Vec<Vec<u8>> = got.iter().map(|f| f.data.to_vec()).collect();
    assert_eq!(data, aus[1..]);
    // A padding packet (empty payload) between frames is skipped quietly.
    let last = ps.last().unwrap();
    a.push(now, last.seq.wrapping_add(1), last.ts, false, Bytes::new());
    let (more, more_aus) = packets(last.seq.wrapping_add(2), &[(9, 1)]);
    push(&mut a, now, &more[0]);
    push(&mut a, now, &more[1]);
    let got = drain(&mut a, now);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data, more_aus[0]);
    assert!(!got[0].loss_before);
}

#[test]
fn a_frame_still_arriving_is_waited_for_however_long_it_takes() {
    // A big keyframe on a slow link: 60 packets 10 ms apart, nothing lost.
    let t0 = Instant::now();
    let mut a = assembler();
    let (ps, aus) = packets(9, &[(1, 59)]);
    for (i, p) in ps.iter().enumerate() {
        let at = t0 + Duration::from_millis(10 * i as u64);
        push(&mut a, at, p);
        if i + 1 < ps.len() {
            assert_eq!(a.pop(at), None);
        }
    }
    let f = a
        .pop(t0 + Duration::from_millis(600))
        .expect("the whole frame");
    assert_eq!(f.data, aus[0]);
    assert!(!f.loss_before);
}

#[test]
fn a_packet_lost_between_frames_costs_the_wait_but_not_the_next_frame() {
    let t0 = Instant::now();
    let mut a = assembler();
    let (ps, aus) = packets(500, &[(1, 2), (2, 2)]);
    for p in &ps[..3] {
        push(&mut a, t0, p);
    }
    assert_eq!(drain(&mut a, t0).len(), 1);
    // A padding packet after the first frame is lost: the second frame's
    // packets come one sequence number later.
    for p in &ps[3..] {
        a.push(t0, p.seq.wrapping_add(1), p.ts, p.marker, p.payload.clone());
    }
    assert!(drain(&mut a, t0 + Duration::from_millis(200)).is_empty());
    let got = drain(&mut a, t0 + Duration::from_millis(301));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data, aus[1]);
    assert!(got[0].loss_before);
}

#[test]
fn a_sender_that_starts_over_is_followed_after_two_packets() {
    let now = Instant::now();
    let mut a = assembler();
    let (ps, aus) = packets(100, &[(1, 2)]);
    for p in &ps {
        push(&mut a, now, p);
    }
    assert_eq!(drain(&mut a, now).len(), 1);
    // A stray packet far ahead is ignored.
    a.push(
        now,
        30_000,
        9_000,
        false,
        Bytes::from_static(&[0x41, 0x80, 1]),
    );
    let (more, _) = packets(ps.last().unwrap().seq.wrapping_add(1), &[(2, 1)]);
    for p in &more {
        push(&mut a, now, p);
    }
    assert_eq!(drain(&mut a, now).len(), 1, "the stream goes on");
    // The sender restarts its numbering: the first frame's first packet is
    // taken for a stray (that frame comes without it, and says so); the next
    // frame plays whole.
    let (restart, restart_aus) = packets(40_000, &[(3, 2), (4, 2)]);
    let got: Vec<_> = restart
        .iter()
        .flat_map(|p| {
            push(&mut a, now, p);
            drain(&mut a, now)
        })
        .collect();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].loss_before);
    assert_ne!(got[0].data, restart_aus[0]);
    assert_eq!(got[1].data, restart_aus[1]);
    assert!(!got[1].loss_before);
    assert_eq!(aus.len(), 1);
}

#[test]
fn a_malformed_aggregation_packet_drops_its_frame_without_panicking() {
    let now = Instant::now();
    let mut a = assembler();
    // STAP-A announcing a 5-byte NAL unit with 1 byte left, then one odd byte.
    for (seq, payload) in [
        (1u16, &[0x18u8, 0x00, 0x05, 0x67][..]),
        (2, &[0x18, 0x00, 0x01, 0x67, 0x00][..]),
    ] {
        a.push(now, seq, 0, true, Bytes::copy_from_slice(payload));
    }
    let (ps, aus) = packets(3, &[(1, 1)]);
    for p in &ps {
        a.push(now, p.seq, 3000, p.marker, p.payload.clone());
    }
    let got = drain(&mut a, now);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data, aus[0]);
    assert!(got[0].loss_before);
}

#[test]
fn access_unit_starts_are_told_from_later_slices_and_fragments() {
    assert!(starts_access_unit(&[0x67, 0x42])); // SPS
    assert!(starts_access_unit(&[0x18, 0, 2, 0x67, 0x42])); // STAP-A
    assert!(starts_access_unit(&[0x65, 0x88])); // IDR slice, first_mb_in_slice 0
    assert!(!starts_access_unit(&[0x65, 0x40])); // a later slice
    assert!(starts_access_unit(&[0x7C, 0x85, 0x88])); // FU-A start of a first slice
    assert!(!starts_access_unit(&[0x7C, 0x05, 0x88])); // not a start fragment
    assert!(!starts_access_unit(&[0x7C, 0x81, 0x40])); // FU-A start of a later slice
    assert!(!starts_access_unit(&[]));
}
