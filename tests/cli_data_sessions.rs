//! `parley-cli answer` and data sessions (chat and files outside a call,
//! docs/protocol.md §6.1), with the app's own client (parley-engine, in process)
//! on the other side and the real server between them.
//!
//! Asserts: a stranger's data session is declined (the stranger is told "not a
//! contact", the CLI says so and keeps waiting); a contact's is taken: its chat
//! message is printed, and when the contact goes away the CLI ends with success.

mod common;

use std::io::{BufRead as _, BufReader};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use parley_engine::client::{Client, ClientConfig, ClientEvent, NoMedia};
use parley_engine::rtc::RtcConfig;
use parley_proto::PeerId;
use tokio::sync::mpsc;

fn config(dir: &std::path::Path, url: &str) -> ClientConfig {
    ClientConfig {
        profile: Arc::new(parley_engine::storage::Profile::open(&dir.join("profile")).unwrap()),
        server_url: Some(url.to_owned()),
        embedded_listen: "127.0.0.1:0".parse().unwrap(),
        rtc: RtcConfig {
            udp_bind: vec!["127.0.0.1:0".parse().unwrap()],
            ..Default::default()
        },
        download_dir: dir.join("downloads"),
        media: Arc::new(NoMedia),
        remote_video: Default::default(),
        local_video: Default::default(),
        remote_screen: Default::default(),
        echo_test: false,
        ask_before_receiving: false,
    }
}

/// The first event `f` accepts; panics after 20 s.
async fn until<T>(
    rx: &mut mpsc::Receiver<ClientEvent>,
    what: &str,
    mut f: impl FnMut(&ClientEvent) -> Option<T>,
) -> T {
    let wait = async {
        while let Some(e) = rx.recv().await {
            if let Some(t) = f(&e) {
                return t;
            }
        }
        panic!("events ended before {what}")
    };
    tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .unwrap_or_else(|_| panic!("no {what} within 20 s"))
}

#[test]
fn cli_answer_takes_a_contacts_data_session_and_declines_a_strangers() {
    let server = Server::start();
    let cli = Peer::new(&server);
    let cli_id = PeerId::parse(&cli.id).unwrap();
    let (da, dc) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (alice, mut aev) = rt
        .block_on(Client::start(config(da.path(), &server.url)))
        .unwrap();
    let alice_id = alice.profile().identity().id();
    alice.profile().add_contact(&cli_id, Some("CLI")).unwrap();
    let out = std::process::Command::new(bin("parley-cli"))
        .arg("--profile")
        .arg(cli.path("profile"))
        .args(["contact", "add", alice_id.as_str(), "--name", "Alice"])
        .output()
        .unwrap();
    success(&out, "contact add");

    let mut answer = cli.spawn(&["answer", "--timeout", "60", "--no-video", "--no-audio"]);
    // The CLI's stdout, line by line, as it comes.
    let (line_tx, line_rx) = std::sync::mpsc::channel::<String>();
    let stdout = answer.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = line_tx.send(line);
        }
    });
    rt.block_on(async {
        alice.refresh_contacts().await;
        until(&mut aev, "the CLI online", |e| match e {
            ClientEvent::Presence { id, online: true } if *id == cli_id => Some(()),
            _ => None,
        })
        .await;
        // A stranger first: declined, and told why.
        let (carol, mut cev) = Client::start(config(dc.path(), &server.url)).await.unwrap();
        carol
            .send_chat(cli_id.clone(), "let me in".into())
            .await
            .unwrap();
        let why = until(&mut cev, "the stranger's error", |e| match e {
            ClientEvent::Error { code, message } => Some((*code, message.clone())),
            _ => None,
        })
        .await;
        assert!(why.1.contains("not a contact"), "{why:?}");
        carol.shutdown().await;
        // Then the contact: taken.
        alice
            .send_chat(cli_id.clone(), "hello from the app".into())
            .await
            .unwrap();
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while !seen.iter().any(|l| l == "chat: hello from the app") {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match line_rx.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("the CLI did not print the contact's message: {seen:?}"),
        }
    }
    rt.block_on(alice.shutdown());
    let (out, _) = wait(answer, Duration::from_secs(30), "parley-cli answer");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "answer should end well when the contact leaves: {}\n{stderr}",
        out.status
    );
    assert!(
        stderr.contains("not a contact") && stderr.contains("incoming data session"),
        "{stderr}"
    );
}
