//! Jitter buffer tests: all driven by an explicit clock.

use super::*;

const TS_STEP: u32 = 960;

fn pkt(i: u16) -> Vec<u8> {
    i.to_be_bytes().to_vec()
}

/// Pops at `now` until `None`, returning what came out as seq ids or `None` for
/// Lost.
fn drain(jb: &mut JitterBuffer, now: u64) -> Vec<Option<u16>> {
    let mut out = Vec::new();
    while let Some(o) = jb.pop(now) {
        out.push(match o {
            JitterOut::Packet(p) => Some(u16::from_be_bytes([p[0], p[1]])),
            JitterOut::Lost => None,
        });
    }
    out
}

#[test]
fn holds_for_target_delay_then_releases_in_order() {
    let mut jb = JitterBuffer::new();
    for i in 0..5u16 {
        jb.push(i, u32::from(i) * TS_STEP, pkt(i), 1000 + u64::from(i) * 20);
    }
    assert_eq!(jb.pop(1000), None);
    assert_eq!(jb.pop(1059), None);
    assert_eq!(jb.pop(1060), Some(JitterOut::Packet(pkt(0))));
    assert_eq!(jb.pop(1060), None, "packet 1 is due at 1080");
    assert_eq!(drain(&mut jb, 1080), vec![Some(1)]);
    assert_eq!(drain(&mut jb, 1140), vec![Some(2), Some(3), Some(4)]);
    assert_eq!(jb.stats().released, 5);
}

#[test]
fn reorders() {
    let mut jb = JitterBuffer::new();
    for (k, i) in [0u16, 2, 1, 4, 3].into_iter().enumerate() {
        jb.push(i, u32::from(i) * TS_STEP, pkt(i), 1000 + k as u64 * 5);
    }
    assert_eq!(
        drain(&mut jb, 2000),
        vec![Some(0), Some(1), Some(2), Some(3), Some(4)]
    );
}

#[test]
fn reports_gaps_as_lost_once_a_later_packet_is_due() {
    let mut jb = JitterBuffer::new();
    for i in [0u16, 1, 4, 5] {
        jb.push(i, u32::from(i) * TS_STEP, pkt(i), 1000 + u64::from(i) * 20);
    }
    assert_eq!(drain(&mut jb, 1080), vec![Some(0), Some(1)]);
    // Packet 2's slot: packet 4 (due 1140) is not due yet, so wait.
    assert_eq!(jb.pop(1100), None);
    assert_eq!(drain(&mut jb, 1140), vec![None, None, Some(4)]);
    assert_eq!(jb.stats().lost, 2);
    // A straggler for an already played slot is dropped as late.
    jb.push(2, 2 * TS_STEP, pkt(2), 1141);
    assert_eq!(jb.stats().late, 1);
    assert_eq!(drain(&mut jb, 1160), vec![Some(5)]);
}

#[test]
fn drops_duplicates() {
    let mut jb = JitterBuffer::new();
    jb.push(7, 0, pkt(7), 0);
    jb.push(7, 0, pkt(7), 1);
    jb.push(8, TS_STEP, pkt(8), 20);
    jb.push(8, TS_STEP, pkt(8), 21);
    assert_eq!(jb.stats().duplicate, 2);
    assert_eq!(drain(&mut jb, 500), vec![Some(7), Some(8)]);
    jb.push(8, TS_STEP, pkt(8), 501);
    assert_eq!(jb.stats().late, 1);
    assert!(jb.is_empty());
}

#[test]
fn sequence_and_timestamp_wrap() {
    let mut jb = JitterBuffer::new();
    let seq0 = u16::MAX - 2;
    let ts0 = u32::MAX - TS_STEP; // timestamps wrap too
    let seqs: Vec<u16> = (0..6).map(|k| seq0.wrapping_add(k)).collect();
    // Arrive out of order around the wrap.
    for &k in &[0u16, 1, 3, 2, 5, 4] {
        let s = seq0.wrapping_add(k);
        let ts = ts0.wrapping_add(u32::from(k) * TS_STEP);
        jb.push(s, ts, pkt(s), 1000 + u64::from(k) * 20);
    }
    let got: Vec<u16> = drain(&mut jb, 2000)
        .into_iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(got, seqs);
    assert_eq!(jb.stats().resyncs, 0);
}

#[test]
fn caps_its_size() {
    let mut jb = JitterBuffer::with_config(60, 10, 48_000);
    for i in 0..25u16 {
        jb.push(i, u32::from(i) * TS_STEP, pkt(i), 1000);
    }
    assert_eq!(jb.len(), 10);
    assert_eq!(jb.stats().dropped, 15);
    // Same arrival time: the mapping comes from packet 24, so packet i is due
    // at 1000 + 60 + (i - 24) * 20. Pop slot by slot from packet 15's slot on.
    let out: Vec<_> = (15..25u64)
        .flat_map(|i| drain(&mut jb, 1060 + i * 20 - 24 * 20))
        .collect();
    let want: Vec<_> = (15..25u16).map(Some).collect();
    assert_eq!(out, want, "no Lost for overflowed packets");
}

#[test]
fn drains_a_backlog_after_a_stall() {
    let mut jb = JitterBuffer::new();
    // 30 packets (600 ms) arrive in one burst after a stall; the consumer has
    // kept popping, so most are long overdue.
    for i in 0..30u16 {
        jb.push(i, u32::from(i) * TS_STEP, pkt(i), 1000);
    }
    let out = drain(&mut jb, 1000 + 60 + 29 * 20);
    // Only the newest few are kept: latency returns near the target.
    assert!(out.len() <= 6, "{out:?}");
    assert_eq!(out.last(), Some(&Some(29)));
}

#[test]
fn resyncs_on_a_new_stream() {
    let mut jb = JitterBuffer::new();
    for i in 0..3u16 {
        jb.push(i, u32::from(i) * TS_STEP, pkt(i), 1000 + u64::from(i) * 20);
    }
    assert_eq!(drain(&mut jb, 1100), vec![Some(0), Some(1), Some(2)]);
    // The sender restarted: new sequence and timestamp bases.
    for k in 0..3u16 {
        let s = 30_000 + k;
        jb.push(
            s,
            7_777_777 + u32::from(k) * TS_STEP,
            pkt(s),
            1200 + u64::from(k) * 20,
        );
    }
    assert_eq!(jb.stats().resyncs, 1);
    assert_eq!(jb.pop(1259), None);
    assert_eq!(
        drain(&mut jb, 1300),
        vec![Some(30_000), Some(30_001), Some(30_002)]
    );
    // A long silence with the same stream (timestamp far behind arrival) too.
    jb.push(30_003, 7_777_777 + 3 * TS_STEP, pkt(1), 9_000);
    assert_eq!(jb.stats().resyncs, 2);
    assert_eq!(drain(&mut jb, 9_060), vec![Some(1)]);
}

#[test]
fn jittery_arrivals_play_without_loss() {
    let mut jb = JitterBuffer::new();
    let jitter = [0u64, 35, 5, 40, 10, 0, 30, 15, 45, 0];
    let mut played = Vec::new();
    let mut next_push = 0usize;
    for slot in 0..20u64 {
        let now = 1000 + slot * 20;
        while next_push < 10 && 1000 + next_push as u64 * 20 + jitter[next_push] <= now {
            let i = next_push as u16;
            jb.push(i, u32::from(i) * TS_STEP, pkt(i), now);
            next_push += 1;
        }
        if let Some(o) = jb.pop(now) {
            played.push(o);
        }
    }
    assert_eq!(played.len(), 10);
    assert!(played.iter().all(|o| matches!(o, JitterOut::Packet(_))));
}

#[test]
fn after_a_loss_the_next_packet_can_be_read_for_its_fec() {
    let mut jb = JitterBuffer::new();
    jb.push(10, 10 * TS_STEP, pkt(10), 1000);
    jb.push(12, 12 * TS_STEP, pkt(12), 1040);
    assert_eq!(jb.pop(1060), Some(JitterOut::Packet(pkt(10))));
    assert_eq!(jb.peek_next(), None, "11 is missing");
    assert_eq!(jb.pop(1100), Some(JitterOut::Lost));
    assert_eq!(
        jb.peek_next(),
        Some(pkt(12).as_slice()),
        "12 follows the lost 11"
    );
    assert_eq!(jb.pop(1120), Some(JitterOut::Packet(pkt(12))));
}

/// Plays 20 s of packets of which every seventh arrives `late_ms` late, popping
/// every 20 ms; returns the slots lost to playout in the last 10 s and the
/// target delay at the end.
fn play_jittery(mut jb: JitterBuffer, late_ms: u64) -> (usize, u64) {
    let n = 1000u16;
    let arrival = |i: u16| 1000 + u64::from(i) * 20 + if i % 7 == 3 { late_ms } else { 0 };
    let mut order: Vec<u16> = (0..n).collect();
    order.sort_by_key(|&i| arrival(i));
    let (mut next, mut lost_late) = (0, 0);
    for slot in 0..(u64::from(n) + 30) {
        let now = 1000 + slot * 20;
        while next < order.len() && arrival(order[next]) <= now {
            let i = order[next];
            jb.push(i, u32::from(i) * TS_STEP, pkt(i), now);
            next += 1;
        }
        if matches!(jb.pop(now), Some(JitterOut::Lost)) && slot > u64::from(n) / 2 {
            lost_late += 1;
        }
    }
    (lost_late, jb.target_delay_ms())
}

#[test]
fn an_adaptive_buffer_grows_to_hold_late_packets() {
    let (fixed_lost, fixed_delay) = play_jittery(JitterBuffer::new(), 120);
    let (lost, delay) = play_jittery(JitterBuffer::adaptive(), 120);
    assert_eq!(fixed_delay, 60);
    assert!(
        fixed_lost > 50,
        "a fixed 60 ms loses the late ones: {fixed_lost}"
    );
    assert_eq!(
        lost, 0,
        "the adaptive buffer lost {lost} (target {delay} ms)"
    );
    assert!((140..=160).contains(&delay), "target {delay} ms");
}

#[test]
fn an_adaptive_buffer_comes_back_down_one_packet_at_a_time() {
    let mut jb = JitterBuffer::adaptive();
    // 4 s with every seventh packet 120 ms late, then 10 s on time.
    let arrival = |i: u16| 1000 + u64::from(i) * 20 + if i < 200 && i % 7 == 3 { 120 } else { 0 };
    let mut order: Vec<u16> = (0..700).collect();
    order.sort_by_key(|&i| arrival(i));
    let mut next = 0;
    let mut highest = 0;
    for slot in 0..730u64 {
        let now = 1000 + slot * 20;
        while next < order.len() && arrival(order[next]) <= now {
            let i = order[next];
            jb.push(i, u32::from(i) * TS_STEP, pkt(i), now);
            next += 1;
        }
        jb.pop(now);
        highest = highest.max(jb.target_delay_ms());
    }
    assert!(highest >= 140, "it grew to {highest} ms");
    assert_eq!(jb.target_delay_ms(), 60, "and came back down");
    let steps = (highest - 60) / 20;
    assert_eq!(
        jb.stats().dropped,
        steps,
        "one packet dropped per 20 ms step"
    );
}
