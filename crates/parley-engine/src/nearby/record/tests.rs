//! The checks of announcements from the network, with TXT records built byte by
//! byte as they arrive (length-prefixed strings, RFC 6763 §6.1) and decoded by
//! mdns-sd itself.

use std::net::IpAddr;

use mdns_sd::TxtProperties;
use parley_proto::PeerId;

use super::{announced_name, clean_name, host_name, instance_name, parse, service_info, Reject};
use super::{MAX_ADDRS, MAX_NAME_BYTES, MAX_NAME_CHARS};

fn id(seed: u8) -> PeerId {
    let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    PeerId::from_public_key(&key.verifying_key())
}

/// A TXT record's wire bytes from `(key, value)` pairs (`None`: key alone).
fn txt(props: &[(&str, Option<&[u8]>)]) -> TxtProperties {
    let mut raw = Vec::new();
    for (key, val) in props {
        let mut s = key.as_bytes().to_vec();
        if let Some(value) = val {
            s.push(b'=');
            s.extend_from_slice(value);
        }
        assert!(s.len() <= 255, "a TXT string is at most 255 bytes");
        raw.push(s.len() as u8);
        raw.extend(s);
    }
    TxtProperties::from(&raw[..])
}

/// A TXT value from anything byte-like.
fn v<T: AsRef<[u8]> + ?Sized>(s: &T) -> Option<&[u8]> {
    Some(s.as_ref())
}

/// A well-formed TXT record for `who` named `name` on `port`.
fn good(who: &PeerId, name: &str, port: &str) -> TxtProperties {
    txt(&[
        ("id", v(who.as_str())),
        ("name", v(name)),
        ("port", v(port)),
        ("v", v("4")),
    ])
}

fn lan() -> Vec<IpAddr> {
    vec!["192.168.1.20".parse().unwrap()]
}

#[test]
fn a_well_formed_announcement_is_believed() {
    let (me, bob) = (id(1), id(2));
    let addrs: Vec<IpAddr> = [
        "fe80::1",
        "fd00::7",
        "127.0.0.1",
        "169.254.3.4",
        "192.168.1.20",
    ]
    .iter()
    .map(|a| a.parse().unwrap())
    .collect();
    let peer = parse(&me, 40123, addrs, &good(&bob, " Bob ", "40123")).unwrap();
    assert_eq!(peer.id, bob);
    assert_eq!(peer.name, "Bob");
    assert_eq!(peer.port, 40123);
    // IPv4 first, link-local last in each family, loopback dropped.
    let want: Vec<IpAddr> = ["192.168.1.20", "169.254.3.4", "fd00::7", "fe80::1"]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
    assert_eq!(peer.addrs, want);
    assert_eq!(peer.server_url(), "ws://192.168.1.20:40123/ws");
}

#[test]
fn our_own_announcement_is_not_listed() {
    let me = id(1);
    assert_eq!(
        parse(&me, 40123, lan(), &good(&me, "Me", "40123")),
        Err(Reject::Ours)
    );
}

#[test]
fn malformed_ids_are_ignored() {
    let me = id(1);
    let mut flipped = id(2).as_str().to_owned();
    flipped.push('A'); // 44 chars
    let bad: [&[u8]; 6] = [
        b"",
        b"not an id",
        flipped.as_bytes(),
        &[0xff, 0xfe, 0x00],
        b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        &[b'A'; 250],
    ];
    for raw in bad {
        let t = txt(&[("id", v(raw)), ("port", v("40123"))]);
        assert!(
            matches!(
                parse(&me, 40123, lan(), &t),
                Err(Reject::Malformed { field: "id", .. })
            ),
            "{raw:?}"
        );
    }
    let keyless = txt(&[("id", None), ("port", v("40123"))]);
    assert!(matches!(
        parse(&me, 40123, lan(), &keyless),
        Err(Reject::Malformed { field: "id", .. })
    ));
}

#[test]
fn missing_fields() {
    let (me, bob) = (id(1), id(2));
    let no_id = txt(&[("name", v("Bob")), ("port", v("40123"))]);
    assert_eq!(parse(&me, 40123, lan(), &no_id), Err(Reject::Missing("id")));
    assert_eq!(
        parse(&me, 40123, lan(), &txt(&[])),
        Err(Reject::Missing("id"))
    );
    // Only `id` is required: no name is an empty one, the SRV port is the port.
    let bare = txt(&[("id", v(bob.as_str()))]);
    let peer = parse(&me, 40123, lan(), &bare).unwrap();
    assert_eq!((peer.name.as_str(), peer.port), ("", 40123));
    assert_eq!(
        parse(&me, 40123, Vec::<IpAddr>::new(), &bare),
        Err(Reject::NoAddress)
    );
    let nowhere: Vec<IpAddr> = [
        "127.0.0.1",
        "::1",
        "0.0.0.0",
        "224.0.0.251",
        "255.255.255.255",
    ]
    .iter()
    .map(|a| a.parse().unwrap())
    .collect();
    assert_eq!(parse(&me, 40123, nowhere, &bare), Err(Reject::NoAddress));
}

#[test]
fn mapped_and_this_network_addresses_are_judged_as_ipv4() {
    let (me, bob) = (id(1), id(2));
    let bare = txt(&[("id", v(bob.as_str()))]);
    let nowhere: Vec<IpAddr> = [
        "::ffff:127.0.0.1",
        "::ffff:0.0.0.0",
        "::ffff:224.0.0.251",
        "::ffff:255.255.255.255",
        "0.1.2.3",
        "0.255.255.255",
        "::ffff:0.0.0.7",
    ]
    .iter()
    .map(|a| a.parse().unwrap())
    .collect();
    assert_eq!(parse(&me, 40123, nowhere, &bare), Err(Reject::NoAddress));
    // A mapped LAN address is kept as the IPv4 address it is, once.
    let mapped: Vec<IpAddr> = ["::ffff:192.168.1.20", "192.168.1.20"]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
    let peer = parse(&me, 40123, mapped, &bare).unwrap();
    assert_eq!(peer.addrs, lan());
    assert_eq!(peer.server_url(), "ws://192.168.1.20:40123/ws");
}

#[test]
fn at_most_eight_addresses_are_kept_the_preferred_ones() {
    let (me, bob) = (id(1), id(2));
    let bare = txt(&[("id", v(bob.as_str()))]);
    let v6 = (1..=12u16).map(|n| IpAddr::from([0xfd00, 0, 0, 0, 0, 0, 0, n]));
    let v4 = (1..=12u8).rev().map(|n| IpAddr::from([10, 0, 0, n]));
    let peer = parse(&me, 40123, v6.chain(v4), &bare).unwrap();
    assert_eq!(MAX_ADDRS, 8);
    let want: Vec<IpAddr> = (1..=8u8).map(|n| IpAddr::from([10, 0, 0, n])).collect();
    assert_eq!(peer.addrs, want);
}

#[test]
fn ports_come_from_srv() {
    let (me, bob) = (id(1), id(2));
    let peer = parse(&me, 40123, lan(), &good(&bob, "Bob", "5000")).unwrap();
    assert_eq!(peer.port, 40123, "SRV wins over a differing TXT port");
    for bad in ["0", "65536", "-1", "http", ""] {
        assert!(
            matches!(
                parse(&me, 40123, lan(), &good(&bob, "Bob", bad)),
                Err(Reject::Malformed { field: "port", .. })
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        parse(&me, 0, lan(), &good(&bob, "Bob", "40123")),
        Err(Reject::Malformed {
            field: "srv port",
            ..
        })
    ));
    let bad_v = txt(&[("id", v(bob.as_str())), ("v", v("four"))]);
    assert!(matches!(
        parse(&me, 40123, lan(), &bad_v),
        Err(Reject::Malformed { field: "v", .. })
    ));
}

#[test]
fn names_lose_control_characters_and_may_not_be_huge() {
    let (me, bob) = (id(1), id(2));
    let sneaky = "Bo\u{0}b\n\r\t\u{1b}[31m\u{202e}\u{7f}\u{85}";
    let peer = parse(&me, 40123, lan(), &good(&bob, sneaky, "40123")).unwrap();
    assert_eq!(peer.name, "Bob[31m");
    let longest = "é".repeat(MAX_NAME_CHARS);
    let peer = parse(&me, 40123, lan(), &good(&bob, &longest, "40123")).unwrap();
    assert_eq!(peer.name, longest);
    let huge = "x".repeat(MAX_NAME_CHARS + 1);
    assert!(matches!(
        parse(&me, 40123, lan(), &good(&bob, &huge, "40123")),
        Err(Reject::Malformed { field: "name", .. })
    ));
    let not_utf8 = txt(&[("id", v(bob.as_str())), ("name", v(&[b'B', 0xc3, 0x28]))]);
    assert!(matches!(
        parse(&me, 40123, lan(), &not_utf8),
        Err(Reject::Malformed { field: "name", .. })
    ));
    // Hidden characters do not count towards the limit.
    let padded = format!("{}{}", "\u{200b}".repeat(50), "y".repeat(MAX_NAME_CHARS));
    let t = txt(&[("id", v(bob.as_str())), ("name", v(&padded))]);
    assert_eq!(
        parse(&me, 40123, lan(), &t).unwrap().name.len(),
        MAX_NAME_CHARS
    );
}

#[test]
fn names_lose_format_characters_separators_and_fillers() {
    let (me, bob) = (id(1), id(2));
    let hidden = [
        '\u{00AD}',
        '\u{061C}',
        '\u{180E}',
        '\u{200D}',
        '\u{2028}',
        '\u{2029}',
        '\u{2060}',
        '\u{2064}',
        '\u{206A}',
        '\u{206F}',
        '\u{FEFF}',
        '\u{FFF9}',
        '\u{E0001}',
        '\u{E0041}',
        '\u{115F}',
        '\u{1160}',
        '\u{3164}',
        '\u{FFA0}',
    ];
    for c in hidden {
        let name = format!("{c}Bo{c}b{c}");
        let peer = parse(&me, 40123, lan(), &good(&bob, &name, "40123")).unwrap();
        assert_eq!(peer.name, "Bob", "U+{:04X}", u32::from(c));
    }
    // A name of fillers only is an empty one; visible letters all stay.
    assert_eq!(clean_name("\u{3164}\u{FFA0} \u{115F}"), "");
    assert_eq!(clean_name("Jörg 김민준 ✓ Ωmega"), "Jörg 김민준 ✓ Ωmega");
}

#[test]
fn repeated_keys_count_once() {
    let (me, bob, carol) = (id(1), id(2), id(3));
    let t = txt(&[("ID", v(bob.as_str())), ("id", v(carol.as_str()))]);
    assert_eq!(parse(&me, 40123, lan(), &t).unwrap().id, bob);
}

#[test]
fn what_we_announce() {
    let me = id(1);
    assert_eq!(instance_name(&me).len(), 43);
    let host = host_name(&me);
    assert!(
        host.starts_with("parley-") && host.ends_with(".local."),
        "{host}"
    );
    assert_eq!(host.len(), "parley-".len() + 16 + ".local.".len());
    assert_eq!(host, host.to_ascii_lowercase());

    let long = format!("\u{1}{}", "😀".repeat(100));
    let name = announced_name(&long);
    assert!(name.len() <= MAX_NAME_BYTES && name.chars().count() <= MAX_NAME_CHARS);
    assert!(name.chars().all(|c| c == '😀'));
    assert_eq!(announced_name(&"a".repeat(300)).len(), MAX_NAME_CHARS);

    // What we write, we read back.
    let info = service_info(&me, &long, 40123).unwrap();
    assert_eq!(info.get_port(), 40123);
    assert!(info.get_fullname().starts_with(me.as_str()));
    assert_eq!(info.get_property_val_str("id"), Some(me.as_str()));
    assert_eq!(info.get_property_val_str("port"), Some("40123"));
    let version = parley_proto::PROTOCOL_VERSION.to_string();
    assert_eq!(info.get_property_val_str("v"), Some(version.as_str()));
    let peer = parse(&id(9), 40123, lan(), info.get_properties()).unwrap();
    assert_eq!((peer.id, peer.name), (me, name));
}
