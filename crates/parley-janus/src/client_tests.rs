//! Unit tests of the message routing in `client.rs` (no sockets).

use super::*;
use tokio::sync::mpsc::error::TryRecvError;

fn waiting(t: &mut Tables, txn: &str, expect: Expect) -> oneshot::Receiver<Result<Value>> {
    let (tx, rx) = oneshot::channel();
    t.pending.insert(txn.to_owned(), Pending { tx, expect });
    rx
}

fn handle(t: &mut Tables, session: u64, id: u64) -> mpsc::Receiver<HandleEvent> {
    let (tx, rx) = mpsc::channel(HANDLE_EVENT_QUEUE);
    t.handles.insert(id, HandleEntry { session, tx });
    rx
}

fn plugin(data: Value) -> Value {
    json!({"plugin": VIDEOROOM, "data": data})
}

#[test]
fn sync_success() {
    let mut t = Tables::default();
    let mut rx = waiting(&mut t, "t4", Expect::Reply);
    let data = json!({"videoroom": "created", "room": 1234});
    t.dispatch(
        json!({"janus": "success", "session_id": 1, "transaction": "t4",
        "sender": 2, "plugindata": plugin(data.clone())}),
    );
    let reply = rx.try_recv().expect("completed").expect("ok");
    assert_eq!(parse_reply(&reply), Ok(Reply { data, jsep: None }));
    assert!(t.pending.is_empty());
}

#[test]
fn async_ack_then_event() {
    let mut t = Tables::default();
    let mut rx = waiting(&mut t, "t5", Expect::Reply);
    let mut events = handle(&mut t, 1, 2);
    t.dispatch(json!({"janus": "ack", "session_id": 1, "transaction": "t5"}));
    assert_eq!(
        rx.try_recv().err(),
        Some(oneshot::error::TryRecvError::Empty)
    );
    t.dispatch(
        json!({"janus": "event", "session_id": 1, "sender": 2, "transaction": "t5",
        "plugindata": plugin(json!({"videoroom": "event", "configured": "ok"})),
        "jsep": {"type": "answer", "sdp": "v=0\r\n", "e2ee": false}}),
    );
    let reply = parse_reply(&rx.try_recv().expect("completed").expect("ok")).expect("reply");
    assert_eq!(reply.data["configured"], "ok");
    assert_eq!(
        reply.jsep,
        Some(Jsep {
            kind: "answer".into(),
            sdp: "v=0\r\n".into()
        })
    );
    assert_eq!(events.try_recv(), Err(TryRecvError::Empty));
    // The same transaction, no longer pending, later: an unsolicited event.
    t.dispatch(json!({"janus": "event", "sender": 2, "transaction": "t5",
        "plugindata": plugin(json!({"videoroom": "event", "unpublished": 7}))}));
    match events.try_recv() {
        Ok(HandleEvent::Plugin { data, jsep: None }) => assert_eq!(data["unpublished"], 7),
        other => panic!("{other:?}"),
    }
}

#[test]
fn acks_answer_keepalive_and_trickle() {
    let pending = |t: &str| (t == "k").then_some(true);
    assert_eq!(
        route(&json!({"janus": "ack", "transaction": "k"}), pending),
        Route::Reply("k".into())
    );
    assert_eq!(
        route(&json!({"janus": "ack", "transaction": "z"}), pending),
        Route::Ignore
    );
    let c = Candidate {
        candidate: "candidate:1 1 udp 1 10.0.0.1 5000 typ host".into(),
        sdp_mid: Some("0".into()),
        sdp_mline_index: None,
    };
    assert_eq!(json!(c), json!({"candidate": c.candidate, "sdpMid": "0"}));
}

#[test]
fn plugin_and_janus_errors() {
    let reason = "Missing mandatory element (pin)";
    let msg = json!({"janus": "success", "transaction": "x", "sender": 2,
        "plugindata": plugin(json!({"videoroom": "event", "error_code": 429, "error": reason}))});
    assert_eq!(
        parse_reply(&msg),
        Err(Error::Plugin {
            code: 429,
            reason: reason.into()
        })
    );
    assert_eq!(parse_reply(&msg).err().and_then(|e| e.code()), Some(429));
    let mut t = Tables::default();
    let mut rx = waiting(&mut t, "t", Expect::Reply);
    let err = json!({"janus": "error", "transaction": "t",
        "error": {"code": 458, "reason": "No such session"}});
    t.dispatch(err);
    let reply = rx.try_recv().expect("completed").expect("delivered");
    assert_eq!(
        janus_error(&reply),
        Some(Error::Janus {
            code: 458,
            reason: "No such session".into()
        })
    );
}

#[test]
fn unsolicited_events_go_to_their_handle() {
    let mut t = Tables::default();
    let (tx, mut attached) = mpsc::channel(HANDLE_EVENT_QUEUE);
    let mut rx = waiting(&mut t, "t2", Expect::Attach(1, tx));
    t.dispatch(
        json!({"janus": "success", "session_id": 1, "transaction": "t2", "data": {"id": 2}}),
    );
    assert_eq!(
        rx.try_recv()
            .ok()
            .and_then(|r| r.ok())
            .map(|r| success_id(&r)),
        Some(Ok(2))
    );
    let mut other = handle(&mut t, 1, 3);
    t.dispatch(json!({"janus": "webrtcup", "session_id": 1, "sender": 2}));
    t.dispatch(json!({"janus": "hangup", "session_id": 1, "sender": 3, "reason": "DTLS alert"}));
    t.dispatch(
        json!({"janus": "media", "session_id": 1, "sender": 2, "type": "video",
        "receiving": true, "mid": "0"}),
    );
    assert_eq!(attached.try_recv(), Ok(HandleEvent::WebrtcUp));
    let media = HandleEvent::Media {
        kind: "video".into(),
        receiving: true,
        mid: Some("0".into()),
    };
    assert_eq!(attached.try_recv(), Ok(media));
    assert_eq!(
        other.try_recv(),
        Ok(HandleEvent::Hangup {
            reason: "DTLS alert".into()
        })
    );
    assert_eq!(attached.try_recv(), Err(TryRecvError::Empty));
    t.dispatch(json!({"janus": "detached", "session_id": 1, "sender": 3}));
    assert_eq!(other.try_recv(), Ok(HandleEvent::Detached));
    assert_eq!(other.try_recv(), Err(TryRecvError::Disconnected));
}

#[test]
fn session_timeout_and_close() {
    let mut t = Tables::default();
    let (mut a, mut b, mut c) = (
        handle(&mut t, 1, 2),
        handle(&mut t, 1, 3),
        handle(&mut t, 9, 4),
    );
    t.dispatch(json!({"janus": "timeout", "session_id": 1}));
    for rx in [&mut a, &mut b] {
        assert_eq!(rx.try_recv(), Ok(HandleEvent::Timeout));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    }
    assert_eq!(c.try_recv(), Err(TryRecvError::Empty));
    let mut rx = waiting(&mut t, "t", Expect::Reply);
    t.close();
    assert_eq!(rx.try_recv().ok(), Some(Err(Error::Closed)));
    assert_eq!(c.try_recv(), Err(TryRecvError::Disconnected));
}
