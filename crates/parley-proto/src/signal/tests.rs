//! Unit tests of the parent module.

use ed25519_dalek::SigningKey;

use super::*;

fn id(seed: u8) -> PeerId {
    PeerId::from_public_key(&SigningKey::from_bytes(&[seed; 32]).verifying_key())
}

fn all_client_messages() -> Vec<ClientMessage> {
    let c = || "call-1".to_owned();
    vec![
        ClientMessage::Hello {
            protocol: crate::PROTOCOL_VERSION,
            public_key: id(1).to_string(),
        },
        ClientMessage::Auth {
            signature: "sig".into(),
            owner: None,
        },
        ClientMessage::Watch {
            ids: vec![id(2), id(3)],
        },
        ClientMessage::Invite {
            call_id: c(),
            to: id(2),
            kind: CallKind::Media,
        },
        ClientMessage::Invite {
            call_id: c(),
            to: id(2),
            kind: CallKind::Data,
        },
        ClientMessage::Ringing { call_id: c() },
        ClientMessage::Accept { call_id: c() },
        ClientMessage::Decline {
            call_id: c(),
            reason: Some("busy".into()),
        },
        ClientMessage::Decline {
            call_id: c(),
            reason: None,
        },
        ClientMessage::Cancel {
            call_id: c(),
            to: None,
        },
        ClientMessage::Hangup {
            call_id: c(),
            reason: None,
        },
        ClientMessage::Offer {
            to: None,
            call_id: c(),
            sdp: "v=0\r\n".into(),
            sig: None,
        },
        ClientMessage::Answer {
            to: None,
            call_id: c(),
            sdp: "v=0\r\n".into(),
            sig: None,
        },
        ClientMessage::Resume {
            calls: vec![ResumedCall {
                call_id: c(),
                peer: id(2),
                kind: CallKind::Media,
            }],
        },
        ClientMessage::Candidate {
            to: None,
            call_id: c(),
            candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host".into(),
            sdp_mid: Some("0".into()),
            sdp_mline_index: Some(0),
        },
        ClientMessage::Candidate {
            to: None,
            call_id: c(),
            candidate: String::new(),
            sdp_mid: None,
            sdp_mline_index: None,
        },
        ClientMessage::Add {
            call_id: c(),
            to: id(4),
        },
        ClientMessage::Offer {
            to: Some(id(4)),
            call_id: c(),
            sdp: "v=0".into(),
            sig: None,
        },
        ClientMessage::Cancel {
            call_id: c(),
            to: Some(id(4)),
        },
        ClientMessage::Ping,
    ]
}

#[test]
fn resume_lists_calls_and_is_bounded() {
    let text = r#"{"type":"resume","calls":[{"call_id":"c1","peer":"iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w"},{"call_id":"d2","peer":"iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w","kind":"data"}]}"#;
    let msg = ClientMessage::parse(text).unwrap();
    let ClientMessage::Resume { calls } = &msg else {
        panic!("parsed as {msg:?}");
    };
    assert_eq!(calls[1].kind, CallKind::Data);
    assert_eq!(msg.to_json(), text);
    let bad_id = r#"{"type":"resume","calls":[{"call_id":"no spaces","peer":"iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w"}]}"#;
    assert!(matches!(
        ClientMessage::parse(bad_id),
        Err(ProtoError::InvalidCallId { .. })
    ));
    let many = ClientMessage::Resume {
        calls: (0..=MAX_RESUMED_CALLS)
            .map(|i| ResumedCall {
                call_id: format!("c{i}"),
                peer: id(2),
                kind: CallKind::Data,
            })
            .collect(),
    };
    assert!(matches!(
        ClientMessage::parse(&many.to_json()),
        Err(ProtoError::Invalid { .. })
    ));
}

fn all_server_messages() -> Vec<ServerMessage> {
    let c = || "call-1".to_owned();
    vec![
        ServerMessage::Challenge {
            protocol: 1,
            nonce: "AAAA".into(),
        },
        ServerMessage::Welcome { id: id(1) },
        ServerMessage::IceServers {
            ice_servers: vec![
                IceServerInfo {
                    urls: vec!["stun:stun.example.org:3478".into()],
                    ..Default::default()
                },
                IceServerInfo {
                    urls: vec![
                        "turn:turn.example.org:3478".into(),
                        "turns:turn.example.org:5349".into(),
                    ],
                    username: "1767225600:iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w".into(),
                    credential: "c2VjcmV0".into(),
                },
            ],
            ttl_s: Some(43_200),
        },
        ServerMessage::Presence {
            id: id(2),
            online: true,
        },
        ServerMessage::Invite {
            call_id: c(),
            from: id(1),
            kind: CallKind::Media,
            members: Vec::new(),
            sfu: false,
        },
        ServerMessage::Invite {
            call_id: c(),
            from: id(1),
            kind: CallKind::Data,
            members: Vec::new(),
            sfu: false,
        },
        ServerMessage::Ringing {
            call_id: c(),
            from: id(1),
        },
        ServerMessage::Accept {
            call_id: c(),
            from: id(1),
        },
        ServerMessage::Decline {
            call_id: c(),
            from: id(1),
            reason: None,
        },
        ServerMessage::Cancel {
            call_id: c(),
            from: id(1),
        },
        ServerMessage::Busy {
            call_id: c(),
            from: id(1),
        },
        ServerMessage::Hangup {
            call_id: c(),
            from: id(1),
            reason: None,
        },
        ServerMessage::Offer {
            call_id: c(),
            from: id(1),
            sdp: "v=0".into(),
            sig: None,
        },
        ServerMessage::Answer {
            call_id: c(),
            from: id(1),
            sdp: "v=0".into(),
            sig: None,
        },
        ServerMessage::Candidate {
            call_id: c(),
            from: id(1),
            candidate: "c".into(),
            sdp_mid: None,
            sdp_mline_index: Some(1),
        },
        ServerMessage::Invite {
            call_id: c(),
            from: id(2),
            kind: CallKind::Media,
            members: vec![id(1), id(2)],
            sfu: true,
        },
        ServerMessage::Joined {
            call_id: c(),
            member: id(3),
        },
        ServerMessage::Sfu {
            call_id: c(),
            sfu: crate::SfuAccess {
                kind: "janus".into(),
                url: "ws://198.51.100.1:40123/".into(),
                room: 6_150_327_340_159_231,
                pin: "pin".into(),
                token: "token".into(),
                feed: 2_871_266_019_551_903,
            },
            feeds: vec![crate::SfuFeed {
                member: id(2),
                feed: 7_012_937_443_100_511,
            }],
        },
        ServerMessage::SfuFeed {
            call_id: c(),
            member: id(3),
            feed: 1_234_567_890_123,
        },
        ServerMessage::Left {
            call_id: c(),
            member: id(3),
            reason: Some("bye".into()),
        },
        ServerMessage::Pong,
        ServerMessage::error(ErrorCode::NotInCall, "nope", Some(c())),
        ServerMessage::error(ErrorCode::Malformed, "bad", None),
    ]
}

#[test]
fn client_messages_round_trip() {
    for msg in all_client_messages() {
        let json = msg.to_json();
        assert_eq!(ClientMessage::parse(&json).unwrap(), msg, "{json}");
        assert!(CLIENT_TYPES.contains(&msg.type_name()));
        assert!(json.starts_with(&format!("{{\"type\":\"{}\"", msg.type_name())));
    }
}

#[test]
fn server_messages_round_trip() {
    for msg in all_server_messages() {
        let json = msg.to_json();
        assert_eq!(ServerMessage::parse(&json).unwrap(), msg, "{json}");
        assert!(SERVER_TYPES.contains(&msg.type_name()));
    }
}

#[test]
fn wire_shapes_are_exact() {
    assert_eq!(ClientMessage::Ping.to_json(), r#"{"type":"ping"}"#);
    assert_eq!(
        ClientMessage::parse(r#"{"type":"ping"}"#),
        Ok(ClientMessage::Ping)
    );
    assert_eq!(
        ClientMessage::parse(r#"{"type":"decline","call_id":"a"}"#),
        Ok(ClientMessage::Decline {
            call_id: "a".into(),
            reason: None
        })
    );
    assert_eq!(
        ServerMessage::error(ErrorCode::NotInCall, "m", Some("x".into())).to_json(),
        r#"{"type":"error","code":"not_in_call","message":"m","call_id":"x"}"#
    );
    let cand = ClientMessage::parse(
        r#"{"type":"candidate","call_id":"a","candidate":"c","sdp_mid":"0","sdp_mline_index":0}"#,
    )
    .unwrap();
    assert!(matches!(
        cand,
        ClientMessage::Candidate {
            to: None,
            sdp_mline_index: Some(0),
            ..
        }
    ));
}

#[test]
fn parse_tells_malformed_from_unknown_type() {
    let code = |s: &str| ClientMessage::parse(s).unwrap_err().code();
    assert_eq!(code("not json"), ErrorCode::Malformed);
    assert_eq!(code("[1,2]"), ErrorCode::Malformed);
    assert_eq!(code(r#"{"call_id":"a"}"#), ErrorCode::Malformed);
    assert_eq!(code(r#"{"type":5}"#), ErrorCode::Malformed);
    assert_eq!(
        code(r#"{"type":"invite","call_id":"a"}"#),
        ErrorCode::Malformed
    );
    assert_eq!(
        code(r#"{"type":"hello","protocol":"1","public_key":"k"}"#),
        ErrorCode::Malformed
    );
    assert_eq!(code(r#"{"type":"teleport"}"#), ErrorCode::UnknownType);
    assert_eq!(code(r#"{"type":"pong"}"#), ErrorCode::UnknownType);
    assert_eq!(
        ServerMessage::parse(r#"{"type":"ping"}"#)
            .unwrap_err()
            .code(),
        ErrorCode::UnknownType
    );
}

#[test]
fn parse_validates_call_ids_and_peer_ids() {
    let code = |s: &str| ClientMessage::parse(s).unwrap_err().code();
    assert_eq!(
        code(r#"{"type":"hangup","call_id":""}"#),
        ErrorCode::Invalid
    );
    assert_eq!(
        code(r#"{"type":"hangup","call_id":"a b"}"#),
        ErrorCode::Invalid
    );
    let long = "a".repeat(65);
    assert_eq!(
        code(&format!(r#"{{"type":"hangup","call_id":"{long}"}}"#)),
        ErrorCode::Invalid
    );
    assert!(ClientMessage::parse(&format!(
        r#"{{"type":"hangup","call_id":"{}"}}"#,
        "a".repeat(64)
    ))
    .is_ok());
    assert_eq!(
        code(r#"{"type":"invite","call_id":"a","to":"nobody"}"#),
        ErrorCode::Invalid
    );
    assert_eq!(code(r#"{"type":"watch","ids":["x"]}"#), ErrorCode::Invalid);
    let many = ClientMessage::Watch {
        ids: vec![id(1); MAX_WATCH_IDS + 1],
    };
    assert_eq!(code(&many.to_json()), ErrorCode::Invalid);
    assert!(validate_call_id("Az09_-").is_ok());
    assert!(validate_call_id("é").is_err());
}

#[test]
fn unknown_error_codes_still_parse() {
    let msg = ServerMessage::parse(r#"{"type":"error","code":"brand_new","message":"x"}"#).unwrap();
    assert_eq!(
        msg,
        ServerMessage::Error {
            code: ErrorCode::Unknown,
            message: "x".into(),
            call_id: None
        }
    );
}

#[test]
fn error_code_strings_match_serde() {
    for code in [
        ErrorCode::Malformed,
        ErrorCode::UnknownType,
        ErrorCode::TooLarge,
        ErrorCode::RateLimited,
        ErrorCode::UnsupportedVersion,
        ErrorCode::AuthFailed,
        ErrorCode::NotAuthenticated,
        ErrorCode::AlreadyAuthenticated,
        ErrorCode::Offline,
        ErrorCode::NoSuchCall,
        ErrorCode::NotInCall,
        ErrorCode::Invalid,
        ErrorCode::Internal,
    ] {
        assert_eq!(
            serde_json::to_string(&code).unwrap(),
            format!("\"{}\"", code.as_str())
        );
    }
}

#[test]
fn invite_kind_is_optional_on_the_wire() {
    let to = id(2);
    let old = format!(r#"{{"type":"invite","call_id":"c1","to":"{to}"}}"#);
    match ClientMessage::parse(&old).expect("an invite without kind parses") {
        ClientMessage::Invite { kind, .. } => assert_eq!(kind, CallKind::Media),
        other => panic!("parsed as {other:?}"),
    }
    let media = ClientMessage::Invite {
        call_id: "c1".into(),
        to: to.clone(),
        kind: CallKind::Media,
    };
    assert_eq!(media.to_json(), old, "media invites are sent as before");
    let data = ClientMessage::Invite {
        call_id: "c1".into(),
        to,
        kind: CallKind::Data,
    };
    assert!(
        data.to_json().contains(r#""kind":"data""#),
        "{}",
        data.to_json()
    );
    let bad = r#"{"type":"invite","call_id":"c1","to":"x","kind":"video"}"#;
    assert!(
        ClientMessage::parse(bad).is_err(),
        "an unknown kind is refused"
    );
}

#[test]
fn ice_servers_wire_form() {
    let text = r#"{"type":"ice_servers","ice_servers":[{"urls":["stun:s:3478"]},{"urls":["turn:t:3478"],"username":"9:x","credential":"c"}],"ttl_s":60}"#;
    let msg = ServerMessage::parse(text).unwrap();
    let ServerMessage::IceServers { ice_servers, ttl_s } = &msg else {
        panic!("parsed as {msg:?}");
    };
    assert_eq!(ice_servers.len(), 2);
    assert!(ice_servers[0].username.is_empty());
    assert_eq!(ice_servers[1].credential, "c");
    assert_eq!(*ttl_s, Some(60));
    assert_eq!(msg.to_json(), text);
    assert_eq!(msg.type_name(), "ice_servers");
    assert_eq!(msg.call_id(), None);
}
