use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, UdpSocket};

use super::*;

#[test]
fn urls_the_shim_serves() {
    let tcp = stream_turn_url("turn:turn.example.org?transport=tcp").unwrap();
    assert_eq!(tcp.transport, StreamTransport::Tcp);
    assert_eq!((tcp.host.as_str(), tcp.port), ("turn.example.org", 3478));
    let tls = stream_turn_url("turns:198.51.100.1").unwrap();
    assert_eq!(tls.transport, StreamTransport::Tls);
    assert_eq!((tls.host.as_str(), tls.port), ("198.51.100.1", 5349));
    let v6 = stream_turn_url("TURNS:[2001:db8::1]:443?transport=tcp").unwrap();
    assert_eq!((v6.host.as_str(), v6.port), ("2001:db8::1", 443));
    for other in ["turn:h:3478", "turn:h:3478?transport=udp", "stun:h:3478"] {
        assert!(stream_turn_url(other).is_none(), "{other}");
    }
}

#[test]
fn channel_data_is_padded_on_streams_and_stun_is_not() {
    // ChannelData on channel 0x4001 with 5 bytes of data: 9 bytes, padded to 12.
    let cd = [0x40, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5];
    assert_eq!(stream_padding(&cd), 3);
    assert_eq!(frame_len([0x40, 0x01, 0x00, 0x05]).unwrap(), (12, 9));
    assert_eq!(stream_padding(&[0x40, 0x01, 0x00, 0x04, 1, 2, 3, 4]), 0);
    // A Binding request with 8 bytes of attributes.
    assert_eq!(stream_padding(&[0x00, 0x01, 0x00, 0x08]), 0);
    assert_eq!(frame_len([0x00, 0x01, 0x00, 0x08]).unwrap(), (28, 28));
    let err = frame_len([0x80, 0, 0, 0]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
}

/// A TURN server stand-in: echoes every framed message back on its connection,
/// padding included, and reports each message as it arrived on the stream.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, seen: mpsc::Sender<Vec<u8>>) {
    let mut head = [0u8; 4];
    while s.read_exact(&mut head).await.is_ok() {
        let (on_stream, _) = frame_len(head).unwrap();
        let mut msg = head.to_vec();
        msg.resize(on_stream, 0);
        s.read_exact(&mut msg[4..]).await.unwrap();
        s.write_all(&msg).await.unwrap();
        let _ = seen.send(msg).await;
    }
}

fn stun_message() -> Vec<u8> {
    // Binding request, 4 bytes of attributes, magic cookie, transaction id.
    let mut m = vec![0x00, 0x01, 0x00, 0x04, 0x21, 0x12, 0xa4, 0x42];
    m.extend_from_slice(&[7; 12]);
    m.extend_from_slice(&[0x80, 0x22, 0x00, 0x00]);
    m
}

async fn round_trip(shim_url: &str, shims: &StreamTurnShims, seen: &mut mpsc::Receiver<Vec<u8>>) {
    let port: u16 = shim_url
        .trim_start_matches("turn:127.0.0.1:")
        .trim_end_matches("?transport=udp")
        .parse()
        .unwrap();
    assert!(shims.transport_of(shim_url).is_some());
    let shim = SocketAddr::from(([127, 0, 0, 1], port));
    // Two local sockets, as webrtc-rs has one per interface: each gets its own
    // connection, and each gets back only its own messages.
    for _ in 0..2 {
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let channel_data = [0x40, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5];
        for datagram in [stun_message(), channel_data.to_vec()] {
            client.send_to(&datagram, shim).await.unwrap();
            let on_stream = tokio::time::timeout(Duration::from_secs(5), seen.recv())
                .await
                .expect("the server got the message")
                .unwrap();
            assert_eq!(&on_stream[..datagram.len()], &datagram[..]);
            assert_eq!(on_stream.len() % 4, 0, "framed to 4 bytes on the stream");
            let mut back = [0u8; 100];
            let (n, from) =
                tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut back))
                    .await
                    .expect("the echo came back")
                    .unwrap();
            assert_eq!(from, shim);
            assert_eq!(&back[..n], &datagram[..], "padding removed on the way back");
        }
    }
}

#[tokio::test]
async fn turn_over_tcp_carries_stun_and_channel_data_both_ways() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (seen_tx, mut seen) = mpsc::channel(16);
    let accepts = tokio::spawn(async move {
        for _ in 0..2 {
            let (s, _) = listener.accept().await.unwrap();
            tokio::spawn(echo(s, seen_tx.clone()));
        }
    });
    let server = IceServer {
        urls: vec![
            "stun:192.0.2.1:3478".into(),
            format!("turn:127.0.0.1:{}?transport=tcp", addr.port()),
        ],
        username: "u".into(),
        credential: "p".into(),
    };
    let (servers, shims) = StreamTurnShims::start(&[server], &[]).await.unwrap();
    assert_eq!(servers.len(), 2);
    assert!(
        servers[0].urls[0].starts_with("turn:127.0.0.1:"),
        "{servers:?}"
    );
    assert_eq!(servers[0].username, "u");
    assert_eq!(servers[1].urls, vec!["stun:192.0.2.1:3478".to_owned()]);
    assert_eq!(
        shims.transport_of(&servers[0].urls[0]),
        Some(StreamTransport::Tcp)
    );
    round_trip(&servers[0].urls[0], &shims, &mut seen).await;
    accepts.await.unwrap();
}

#[tokio::test]
async fn turn_over_tls_trusts_the_extra_ca_and_only_it() {
    // A CA and a server certificate for 127.0.0.1.
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let server_config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (seen_tx, mut seen) = mpsc::channel(16);
    let (refused_tx, mut refused) = mpsc::channel(4);
    tokio::spawn(async move {
        loop {
            let (s, _) = listener.accept().await.unwrap();
            match acceptor.accept(s).await {
                Ok(tls) => {
                    tokio::spawn(echo(tls, seen_tx.clone()));
                }
                Err(e) => refused_tx.send(e.to_string()).await.unwrap(),
            }
        }
    });
    let server = IceServer {
        urls: vec![format!("turns:127.0.0.1:{}", addr.port())],
        ..Default::default()
    };

    // Without the CA the handshake fails: the client rejects the certificate.
    let (servers, shims) = StreamTurnShims::start(std::slice::from_ref(&server), &[])
        .await
        .unwrap();
    let port = &servers[0].urls[0]["turn:127.0.0.1:".len()..];
    let port: u16 = port.trim_end_matches("?transport=udp").parse().unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client
        .send_to(&stun_message(), ("127.0.0.1", port))
        .await
        .unwrap();
    let why = tokio::time::timeout(Duration::from_secs(5), refused.recv())
        .await
        .expect("the handshake ended")
        .unwrap();
    // The server hears the client's alert: "received fatal alert: UnknownCA".
    assert!(why.contains("UnknownCA"), "{why}");
    drop(shims);

    let (servers, shims) = StreamTurnShims::start(&[server], &[ca.der().to_vec()])
        .await
        .unwrap();
    assert_eq!(
        shims.transport_of(&servers[0].urls[0]),
        Some(StreamTransport::Tls)
    );
    round_trip(&servers[0].urls[0], &shims, &mut seen).await;
}

#[tokio::test]
async fn refreshed_credentials_keep_the_shim_and_a_new_server_gets_one() {
    let server = |url: &str, username: &str| IceServer {
        urls: vec![url.into()],
        username: username.into(),
        credential: format!("{username}-pwd"),
    };
    // Nothing listens there: the shims only connect on a datagram.
    let tcp = "turn:127.0.0.1:9?transport=tcp";
    let (first, shims) = StreamTurnShims::start(&[server(tcp, "old")], &[])
        .await
        .unwrap();
    let again = shims.map(&[server(tcp, "new")]).unwrap();
    assert_eq!(again[0].urls, first[0].urls, "same server, same shim");
    assert_eq!(
        (again[0].username.as_str(), again[0].credential.as_str()),
        ("new", "new-pwd")
    );
    let other = "turn:127.0.0.2:9?transport=tcp";
    let more = shims
        .map(&[server(tcp, "new"), server(other, "new")])
        .unwrap();
    assert_eq!(more[0].urls, first[0].urls);
    assert_ne!(more[1].urls, first[0].urls, "another server, another shim");
    assert_eq!(
        shims.transport_of(&more[1].urls[0]),
        Some(StreamTransport::Tcp)
    );
    // A URL named twice in one list still gets a shim each.
    let twice = shims.map(&[server(tcp, "a"), server(tcp, "b")]).unwrap();
    assert_ne!(twice[0].urls, twice[1].urls);
}
