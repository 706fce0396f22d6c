use super::*;

/// One DTLS record: content type, epoch, sequence number, body.
fn record(kind: u8, epoch: u16, seq: u64, body: &[u8]) -> Vec<u8> {
    let mut r = vec![kind, 0xfe, 0xfd];
    r.extend_from_slice(&epoch.to_be_bytes());
    r.extend_from_slice(&seq.to_be_bytes()[2..]);
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, 1], port))
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The client's flight 3 (a ClientHello) with record sequence number `seq`.
fn flight3(seq: u64) -> Vec<u8> {
    record(HANDSHAKE, 0, seq, b"\x01client hello with cookie")
}

/// The server's flight 4 as two datagrams.
fn flight4(seq: u64) -> Vec<Vec<u8>> {
    vec![
        record(HANDSHAKE, 0, seq, b"\x02server hello, certificate"),
        record(HANDSHAKE, 0, seq + 1, b"\x0ekey exchange, hello done"),
    ]
}

/// The client's flight 5: plaintext records, then an encrypted Finished.
fn flight5(seq: u64) -> Vec<u8> {
    let mut d = record(HANDSHAKE, 0, seq, b"\x0bcertificate, key exchange");
    d.extend(record(CHANGE_CIPHER_SPEC, 0, seq + 1, b"\x01"));
    d.extend(record(
        HANDSHAKE,
        1,
        seq,
        format!("finished {seq}").as_bytes(),
    ));
    d
}

/// The identities of a flight's datagrams (content up to sequence numbers).
fn ids(flight: &[Vec<u8>]) -> Vec<u64> {
    flight
        .iter()
        .map(|d| match classify(unframe(d).1) {
            Content::Handshake(id) => id,
            other => panic!("not a handshake datagram: {other:?}"),
        })
        .collect()
}

/// The datagrams of a resend, asserting it is one.
fn resent(seen: Seen) -> Vec<Vec<u8>> {
    match seen {
        Seen::Resend(flight) => flight,
        other => panic!("expected a resend, got {other:?}"),
    }
}

/// Epoch and sequence number of each record of a flight.
fn numbers(flight: &[Vec<u8>]) -> Vec<(u16, u64)> {
    flight
        .iter()
        .flat_map(|d| records(unframe(d).1))
        .map(|r| (r.epoch, r.sequence))
        .collect()
}

/// A server that received flight 3 and sent flight 4 at `t0`.
fn server_after_flight4(client: SocketAddr, t0: Instant) -> Flights {
    let mut server = Flights::default();
    assert_eq!(server.received(client, &flight3(1), t0), Seen::Nothing);
    for d in flight4(1) {
        assert_eq!(server.sent(client, &d, t0), Seen::Nothing);
    }
    server
}

#[test]
fn a_repeated_flight_is_answered_with_ours_once_per_repeat() {
    let (client, t0) = (addr(5000), Instant::now());
    let mut server = server_after_flight4(client, t0);
    // Flight 4 is lost; the client repeats flight 3 with new sequence numbers.
    // It goes again as sent (the socket numbers it afresh: `Numbering`).
    let t1 = t0 + ms(1000);
    let again = resent(server.received(client, &flight3(2), t1));
    assert_eq!(again, flight4(1));
    // A second datagram of the same repeat, right after: no second resend.
    assert_eq!(
        server.received(client, &flight3(3), t1 + ms(5)),
        Seen::Nothing
    );
    // The server's own timer retransmits flight 4 with new numbers: those are
    // what a later resend carries.
    for d in flight4(10) {
        server.sent(client, &d, t1 + ms(10));
    }
    let t2 = t1 + ms(1000);
    let again = resent(server.received(client, &flight3(4), t2));
    assert_eq!(again, flight4(10));
}

#[test]
fn a_quiet_handshake_sends_our_flight_again() {
    let (client, t0) = (addr(8000), Instant::now());
    let mut server = server_after_flight4(client, t0);
    // rtc-dtls retransmits at 1 s: each retransmission puts ours off.
    for d in flight4(3) {
        server.sent(client, &d, t0 + ms(1000));
    }
    assert!(server.due(t0 + ms(2400)).is_empty());
    // Then it falls silent (a repeat disarmed its timer): 1.5 s later, ours.
    let due = server.due(t0 + ms(2500));
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].0, ids(&due[0].1)), (client, ids(&flight4(3))));
    assert!(server.due(t0 + ms(3900)).is_empty());
    assert_eq!(server.due(t0 + ms(4000)).len(), 1);
    // Part of the client's flight 5 arrives: quiet again only 1.5 s after it.
    let t1 = t0 + ms(4100);
    server.received(client, &record(HANDSHAKE, 0, 3, b"\x0bpart of five"), t1);
    assert!(server.due(t1 + ms(1400)).is_empty());
    assert_eq!(server.due(t1 + ms(1500)).len(), 1);
    // Nothing is due for a peer we never sent a flight to.
    let mut fresh = Flights::default();
    fresh.received(client, &flight3(1), t0);
    assert!(fresh.due(t0 + ms(60_000)).is_empty());
}

#[test]
fn a_repeat_after_the_peer_moved_on_is_not_answered_and_the_watch_ends_secured_both_ways() {
    let (server, t0) = (addr(6000), Instant::now());
    let mut client = Flights::default();
    client.sent(server, &flight3(1), t0);
    for d in flight4(1) {
        client.received(server, &d, t0 + ms(10));
    }
    client.sent(server, &flight5(2), t0 + ms(20));
    // The server repeats flight 4 (flight 5 lost): flight 5 goes again.
    let t1 = t0 + ms(1000);
    let again = resent(client.received(server, &flight4(5)[0], t1));
    assert_eq!(again, vec![flight5(2)]);
    // Flight 6 arrives (new), then again: the server has ours, no answer.
    let flight6 = |seq: u64| {
        let mut d = record(CHANGE_CIPHER_SPEC, 0, seq, b"\x01");
        d.extend(record(
            HANDSHAKE,
            1,
            seq,
            format!("finished {seq:03}").as_bytes(),
        ));
        d
    };
    let t2 = t1 + ms(100);
    assert_eq!(client.received(server, &flight6(9), t2), Seen::Nothing);
    let t3 = t2 + ms(1000);
    assert_eq!(client.received(server, &flight6(10), t3), Seen::Nothing);
    // Application data or SRTP the peer sends ends nothing; ours ends the watch.
    let data = record(APPLICATION_DATA, 1, 2, b"sctp init");
    assert_eq!(client.received(server, &data, t3), Seen::Nothing);
    assert_eq!(
        client.received(server, &[0x80, 96, 0, 1], t3),
        Seen::Nothing
    );
    assert_eq!(client.sent(server, &[0x90, 96, 0, 1], t3), Seen::Over);
    // The other way round too (the server sends first).
    let mut server_side = Flights::default();
    assert_eq!(server_side.sent(server, &data, t3), Seen::Nothing);
    assert_eq!(server_side.received(server, &data, t3), Seen::Over);
}

#[test]
fn resends_are_bounded_and_other_packets_ignored() {
    let (client, mut now) = (addr(7000), Instant::now());
    let mut server = server_after_flight4(client, now);
    let mut resends = 0;
    for i in 0..30 {
        now += ms(1000);
        if let Seen::Resend(_) = server.received(client, &flight3(2 + i), now) {
            resends += 1;
        }
        resends += server.due(now).len() as u32;
    }
    assert_eq!(resends, MAX_RESENDS);
    assert!(server.due(now + ms(60_000)).is_empty());
    // STUN, RTP, an alert and truncated records are not handshake datagrams.
    for other in [
        vec![0u8, 1, 0, 0],
        vec![0x80, 96, 0, 1],
        vec![0x40],
        record(21, 0, 1, b"\x02\x28"),
        record(HANDSHAKE, 0, 1, b"body")[..15].to_vec(),
    ] {
        assert_eq!(server.received(client, &other, now), Seen::Nothing);
    }
}

#[test]
fn records_inside_turn_channel_data_are_read_per_channel() {
    let (relay, t0) = (addr(3478), Instant::now());
    let mut server = Flights::default();
    let framed = |channel: u16, records: &[u8]| {
        let mut d = channel.to_be_bytes().to_vec();
        d.extend_from_slice(&(records.len() as u16).to_be_bytes());
        d.extend_from_slice(records);
        // ChannelData over UDP need not be padded; pad as stream transports do.
        d.resize(d.len().div_ceil(4) * 4, 0);
        d
    };
    server.received(relay, &framed(0x4001, &flight3(1)), t0);
    let ours = framed(0x4001, &flight4(1)[0]);
    server.sent(relay, &ours, t0);
    // The same repeat on another channel (another peer behind the relay) is new.
    assert_eq!(
        server.received(relay, &framed(0x4002, &flight3(2)), t0),
        Seen::Nothing
    );
    let again = resent(server.received(relay, &framed(0x4001, &flight3(2)), t0));
    assert_eq!(again, vec![ours]);
}

#[test]
fn strangers_beyond_a_few_are_not_followed() {
    let t0 = Instant::now();
    let mut socket = Flights::default();
    for port in 0..MAX_PEERS as u16 {
        socket.received(addr(9000 + port), &flight3(1), t0);
    }
    assert_eq!(socket.peers.len(), MAX_PEERS);
    socket.received(addr(9999), &flight3(1), t0);
    socket.sent(addr(9999), &flight4(1)[0], t0);
    assert_eq!(socket.peers.len(), MAX_PEERS);
}

#[test]
fn plaintext_records_are_numbered_past_every_number_sent() {
    let mut numbering = Numbering::default();
    let mut sent = |mut d: Vec<u8>| {
        numbering.number(&mut d);
        d
    };
    // rtc-dtls's own numbers pass unchanged while they climb.
    let first = flight4(0);
    assert_eq!(sent(first[0].clone()), first[0]);
    assert_eq!(sent(first[1].clone()), first[1]);
    // A resend of the same datagrams gets fresh numbers.
    let again = [sent(first[0].clone()), sent(first[1].clone())];
    assert_eq!(numbers(&again), vec![(0, 2), (0, 3)]);
    assert_eq!(ids(&again), ids(&first));
    // rtc-dtls, unaware, numbers its next record 2: it follows on instead.
    let ccs = record(CHANGE_CIPHER_SPEC, 0, 2, b"\x01");
    let finished = record(HANDSHAKE, 1, 0, b"encrypted finished");
    let out = sent([ccs, finished].concat());
    assert_eq!(numbers(&[out]), vec![(0, 4), (1, 0)]);
    // Inside ChannelData too.
    let mut framed = 0x4001u16.to_be_bytes().to_vec();
    let inner = record(HANDSHAKE, 0, 3, b"\x0bcertificate");
    framed.extend_from_slice(&(inner.len() as u16).to_be_bytes());
    framed.extend_from_slice(&inner);
    let out = sent(framed);
    assert_eq!(numbers(std::slice::from_ref(&out)), vec![(0, 5)]);
    assert_eq!(out[..4], [0x40, 0x01, 0, inner.len() as u8]);
    // Encrypted records, STUN and RTP are not numbered.
    assert!(!Numbering::concerns(&record(
        APPLICATION_DATA,
        1,
        0,
        b"data"
    )));
    assert!(!Numbering::concerns(&[0, 1, 0, 0]));
    assert!(!Numbering::concerns(&[0x80, 96, 0, 1]));
    assert!(Numbering::concerns(&flight3(7)));
}
