//! Scenario: sign-ins bound to the server's owner (protocol 5,
//! docs/protocol.md §3.1), and the relay they stop.
//!
//! Asserts: on a server run by a peer (an app's embedded server), a sign-in
//! bound to that peer is welcomed, and one bound to anyone else gets
//! `auth_failed`; a server run by no one refuses every bound sign-in; and a relay
//! that passed a server's challenge on to a victim, who signed it bound to the
//! peer the relay pretends to be, cannot sign in as the victim with that answer,
//! bound or not, on either server, while the victim can.

mod common;

use common::{id, key, Client};
use parley_proto::{sign_challenge_bound, ClientMessage, ErrorCode, PeerId, ServerMessage};
use parley_proto::{BOUND_AUTH_PROTOCOL_VERSION, SFU_PROTOCOL_VERSION};
use parley_signal::ServerHandle;

/// A server run by `key(owner)`, on a free loopback port.
async fn owned_by(owner: u8) -> ServerHandle {
    parley_signal::start(parley_signal::ServerConfig {
        owner: Some(id(owner)),
        ..common::config()
    })
    .await
    .unwrap()
}

/// Signs in as `key(seed)` with `signature` over that server's challenge, made
/// by `sign`; what the server answered.
async fn sign_in(
    url: &str,
    seed: u8,
    protocol: u32,
    owner: Option<PeerId>,
    sign: impl Fn(&[u8]) -> String,
) -> ServerMessage {
    let mut c = Client::connect(url, seed).await;
    let nonce = c.hello_as(protocol).await;
    c.send(&ClientMessage::Auth {
        signature: sign(&nonce),
        owner,
    })
    .await;
    c.recv().await
}

fn refused(answer: &ServerMessage) -> bool {
    matches!(
        answer,
        ServerMessage::Error {
            code: ErrorCode::AuthFailed,
            ..
        }
    )
}

#[tokio::test]
async fn a_bound_sign_in_is_good_only_on_its_owners_server() {
    let dana = owned_by(9).await;
    let standalone = common::server().await;
    let bound_to = |owner: u8, seed: u8| {
        move |nonce: &[u8]| sign_challenge_bound(&key(seed), nonce, &id(owner))
    };

    // Bound to the server's owner: welcome.
    let answer = sign_in(
        &dana.url(),
        1,
        BOUND_AUTH_PROTOCOL_VERSION,
        Some(id(9)),
        bound_to(9, 1),
    )
    .await;
    assert_eq!(answer, ServerMessage::Welcome { id: id(1) });

    // Bound to someone else, however presented: refused.
    let answer = sign_in(
        &dana.url(),
        2,
        BOUND_AUTH_PROTOCOL_VERSION,
        Some(id(8)),
        bound_to(8, 2),
    )
    .await;
    assert!(refused(&answer), "bound to another owner: {answer:?}");

    // The relay: Eve pretends to be peer 8 and passes each server's challenge
    // to the victim (key 2), who answers bound to 8, as to a server of 8's.
    for url in [dana.url(), standalone.url()] {
        for (protocol, owner) in [
            (BOUND_AUTH_PROTOCOL_VERSION, Some(id(8))),
            (BOUND_AUTH_PROTOCOL_VERSION, Some(id(9))),
            (BOUND_AUTH_PROTOCOL_VERSION, None),
            (SFU_PROTOCOL_VERSION, None),
        ] {
            let answer = sign_in(&url, 2, protocol, owner.clone(), bound_to(8, 2)).await;
            assert!(
                refused(&answer),
                "{url}: the relayed answer signed in (protocol {protocol}, owner {owner:?}): {answer:?}"
            );
        }
    }

    // A standalone server refuses a bound sign-in even when it verifies.
    let answer = sign_in(
        &standalone.url(),
        3,
        BOUND_AUTH_PROTOCOL_VERSION,
        Some(id(9)),
        bound_to(9, 3),
    )
    .await;
    assert!(refused(&answer), "standalone server: {answer:?}");

    // The victim itself is not locked out, on either server.
    Client::authed(&dana.url(), 2).await.close().await;
    Client::authed(&standalone.url(), 2).await.close().await;
    dana.shutdown().await;
    standalone.shutdown().await;
}
