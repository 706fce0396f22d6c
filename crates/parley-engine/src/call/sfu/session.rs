//! One member's media through the SFU during a call (docs/sfu-plan.md §2
//! "Engine"): a task that connects to the SFU with the server's access, publishes
//! our tracks (handed back to the room, whose local media sends on them as on a
//! peer link), and subscribes to each other member's feed once both the server
//! said whose it is (`sfu` / `sfu_feed`) and the SFU said it publishes.
//!
//! Each feed gets its own subscriber peer connection: nothing is renegotiated
//! when members come and go (one more DTLS handshake per member instead).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use parley_janus::client::HandleEvent;
use parley_janus::JanusClient;
use parley_proto::PeerId;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::publisher::feed_ids;
use super::{SfuGrant, SfuPublisher, SfuSubscriber};
use crate::call::local_media::LinkTracks;
use crate::call::RemoteSinks;
use crate::media::EchoPath;
use crate::rtc::RtcConfig;

/// Inputs the room sends the SFU task, inputs.
const INPUT_QUEUE: usize = 64;
/// How long the publisher's peer connection may take to come up, ms.
const CONNECT_WITHIN_MS: u64 = 15_000;
/// How long leaving the SFU may take at the end of a call, ms.
pub(in crate::call) const CLOSE_WITHIN_MS: u64 = 6_000;

/// What the room tells the SFU task.
pub(in crate::call) enum SfuInput {
    /// `member` publishes as `feed` (the server's `sfu` and `sfu_feed`).
    Feed(PeerId, u64),
    /// `member` left the call: stop receiving it.
    Left(PeerId),
    /// The call ends: leave the room and report.
    Close(oneshot::Sender<SfuSummary>),
}

/// What the SFU task tells the room.
pub(in crate::call) enum SfuNews {
    /// We joined the room; our media goes out on these tracks.
    Publishing(LinkTracks),
    /// The SFU cannot be reached, refused us, or went away (in words).
    Failed(String),
}

/// The SFU's share of the call's figures, for `parley-cli --stats` (never the
/// PIN or the token).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SfuSummary {
    /// The backend, `"janus"`.
    pub kind: String,
    /// The SFU's API URL.
    pub url: String,
    /// The room id.
    pub room: u64,
    /// Our feed id.
    pub feed: u64,
    /// The other members' feeds we subscribed to during the call, by member.
    pub feeds: BTreeMap<String, u64>,
    /// Bytes our publisher peer connection sent, bytes.
    pub publisher_bytes_sent: u64,
    /// Bytes all our subscriber peer connections received, bytes.
    pub subscriber_bytes_received: u64,
    /// Video frames decoded from the SFU, all members together.
    pub frames_received: u64,
}

/// The running SFU task of a call.
pub(in crate::call) struct SfuSession {
    inputs: mpsc::Sender<SfuInput>,
    /// Ends with the report of a link the SFU ended (`None` otherwise).
    task: JoinHandle<Option<SfuSummary>>,
}

impl SfuSession {
    /// Starts the task: joins `grant`'s room, publishes, and subscribes to the
    /// `feeds` (member, feed) it knows and those [`SfuInput::Feed`] adds; their
    /// media goes to `sinks`. News goes to `news`.
    pub(in crate::call) fn start(
        grant: SfuGrant,
        feeds: Vec<(PeerId, u64)>,
        rtc: RtcConfig,
        sinks: SharedSinks,
        news: mpsc::Sender<SfuNews>,
    ) -> SfuSession {
        let (inputs, rx) = mpsc::channel(INPUT_QUEUE);
        let task = tokio::spawn(async move {
            let summary = SfuSummary {
                kind: "janus".into(),
                url: grant.url.clone(),
                room: grant.room,
                feed: grant.feed,
                ..Default::default()
            };
            let mut ended = None;
            let links = (&news, &mut ended);
            if let Err(e) = run(grant, feeds, rtc, sinks, links, rx, summary).await {
                tracing::warn!("the SFU link failed: {e}");
                let _ = news.send(SfuNews::Failed(e.to_string())).await;
            }
            ended
        });
        SfuSession { inputs, task }
    }

    /// Passes `input` on (dropped if the task is gone).
    pub(in crate::call) async fn send(&self, input: SfuInput) {
        let _ = self.inputs.send(input).await;
    }

    /// Reports, then leaves the room and closes every peer connection (the
    /// receivers finish their sinks), waiting at most [`CLOSE_WITHIN_MS`] in
    /// all. If the SFU had ended the link already (it hung up on us: the
    /// server closes the room as the call ends), the report is the one taken
    /// then; `None` if the task failed before publishing.
    pub(in crate::call) async fn close(self) -> Option<SfuSummary> {
        let (tx, rx) = oneshot::channel();
        let _ = self.inputs.send(SfuInput::Close(tx)).await;
        let within = Duration::from_millis(CLOSE_WITHIN_MS);
        let deadline = tokio::time::Instant::now() + within;
        let summary = tokio::time::timeout_at(deadline, rx)
            .await
            .ok()
            .and_then(Result::ok);
        let abort = self.task.abort_handle();
        match tokio::time::timeout_at(deadline, self.task).await {
            Ok(ended) => summary.or(ended.ok().flatten()),
            Err(_) => {
                tracing::warn!("the SFU link took too long to close");
                abort.abort();
                summary
            }
        }
    }
}

/// Hands every subscriber the sinks of the call, one factory shared by all;
/// with an echo path, each audio sink that plays aloud feeds it its far end.
#[derive(Clone)]
pub(in crate::call) struct SharedSinks {
    sinks: std::sync::Arc<std::sync::Mutex<Box<dyn RemoteSinks>>>,
    echo: Option<EchoPath>,
}

impl SharedSinks {
    /// Shares `sinks`.
    pub(in crate::call) fn new(sinks: Box<dyn RemoteSinks>) -> SharedSinks {
        SharedSinks {
            sinks: std::sync::Arc::new(std::sync::Mutex::new(sinks)),
            echo: None,
        }
    }

    /// The same sinks, the audio ones that play aloud feeding `echo` (the
    /// call's echo canceller) what they play.
    pub(in crate::call) fn with_echo(mut self, echo: Option<EchoPath>) -> SharedSinks {
        self.echo = echo;
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Box<dyn RemoteSinks>> {
        self.sinks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl RemoteSinks for SharedSinks {
    fn video(
        &mut self,
        peer: &PeerId,
        track: crate::call::TrackKind,
    ) -> Vec<Box<dyn crate::call::VideoSink>> {
        self.lock().video(peer, track)
    }
    fn audio(&mut self, peer: &PeerId) -> Vec<Box<dyn crate::call::AudioSink>> {
        let mut sinks = self.lock().audio(peer);
        crate::call::media::tap_played(&self.echo, &mut sinks);
        sinks
    }
}

/// The task's state: who publishes as which feed, what the SFU says is up, and
/// our subscriptions.
struct Feeds {
    /// feed → member (from the server).
    members: HashMap<u64, PeerId>,
    /// Feeds the SFU says publish.
    up: HashSet<u64>,
    /// Our subscriptions, by feed.
    subs: HashMap<u64, SfuSubscriber>,
    /// Every feed we subscribed to, by member (for the report), and the
    /// figures of the subscriptions already closed.
    done: SfuSummary,
    /// Subscriptions being closed in the background (members who left).
    closing: Vec<JoinHandle<()>>,
}

async fn run(
    grant: SfuGrant,
    feeds: Vec<(PeerId, u64)>,
    rtc: RtcConfig,
    sinks: SharedSinks,
    (news, ended): (&mpsc::Sender<SfuNews>, &mut Option<SfuSummary>),
    mut inputs: mpsc::Receiver<SfuInput>,
    mut summary: SfuSummary,
) -> crate::Result<()> {
    let client = JanusClient::connect(&grant.url).await?;
    let session = client.create_session().await?;
    let mut publisher = SfuPublisher::publish(&session, &grant, &rtc).await?;
    let mut state = Feeds {
        members: feeds.into_iter().map(|(p, f)| (f, p)).collect(),
        up: publisher.publishers_at_join().iter().copied().collect(),
        subs: HashMap::new(),
        done: SfuSummary::default(),
        closing: Vec::new(),
    };
    let connect = publisher.wait_connected(Duration::from_millis(CONNECT_WITHIN_MS));
    if let Err(e) = connect.await {
        publisher.close().await;
        return Err(e);
    }
    // Only now does our media leave the peer links for the SFU (sooner, it
    // would be lost while the publisher connects).
    let _ = news.send(SfuNews::Publishing(publisher.tracks())).await;
    tracing::info!(
        room = grant.room,
        feed = grant.feed,
        "publishing to the SFU"
    );
    loop {
        state
            .subscribe_ready(&session, &grant, &publisher, &rtc, &sinks)
            .await;
        tokio::select! {
            // A close already asked for wins over the SFU's hang-up.
            biased;
            input = inputs.recv() => match input {
                Some(SfuInput::Feed(member, feed)) => {
                    state.members.insert(feed, member);
                }
                Some(SfuInput::Left(member)) => {
                    let gone: Vec<u64> = state
                        .members
                        .iter()
                        .filter(|(_, m)| **m == member)
                        .map(|(f, _)| *f)
                        .collect();
                    for feed in gone {
                        state.members.remove(&feed);
                        state.unsubscribe(feed).await;
                    }
                }
                Some(SfuInput::Close(reply)) => {
                    state.summarize(&publisher, &mut summary).await;
                    let _ = reply.send(summary);
                    futures_util::join!(state.close_all(), publisher.close());
                    return Ok(());
                }
                None => {
                    state.close_all().await;
                    publisher.close().await;
                    return Ok(());
                }
            },
            ev = publisher.next_event() => match ev {
                Some(HandleEvent::Plugin { data, .. }) => state.on_room_event(&data).await,
                Some(HandleEvent::Hangup { reason }) => {
                    state.summarize(&publisher, &mut summary).await;
                    *ended = Some(summary);
                    state.close_all().await;
                    publisher.close().await;
                    return Err(crate::Error::Rtc(format!("the SFU hung up: {reason}")));
                }
                Some(HandleEvent::Detached | HandleEvent::Timeout) | None => {
                    state.summarize(&publisher, &mut summary).await;
                    *ended = Some(summary);
                    state.close_all().await;
                    publisher.close().await;
                    return Err(parley_janus::Error::Closed.into());
                }
                Some(_) => {}
            },
        }
    }
}

impl Feeds {
    /// Subscribes to every feed that is both known and up, and not yet ours.
    async fn subscribe_ready(
        &mut self,
        session: &parley_janus::Session,
        grant: &SfuGrant,
        publisher: &SfuPublisher,
        rtc: &RtcConfig,
        sinks: &SharedSinks,
    ) {
        let ready: Vec<(u64, PeerId)> = self
            .members
            .iter()
            .filter(|(f, _)| self.up.contains(f) && !self.subs.contains_key(f))
            .map(|(f, m)| (*f, m.clone()))
            .collect();
        for (feed, member) in ready {
            let sinks: Box<dyn RemoteSinks> = Box::new(sinks.clone());
            let feeds = [(feed, member.clone())];
            let private_id = publisher.private_id();
            match SfuSubscriber::subscribe(session, grant, private_id, &feeds, rtc, sinks).await {
                Ok(sub) => {
                    tracing::info!(%member, feed, "receiving a member through the SFU");
                    self.done.feeds.insert(member.to_string(), feed);
                    self.subs.insert(feed, sub);
                }
                Err(e) => {
                    // Not up after all (it left meanwhile): wait for news.
                    tracing::warn!(%member, feed, "cannot subscribe: {e}");
                    self.up.remove(&feed);
                }
            }
        }
    }

    /// A VideoRoom event on our publisher handle: feeds that went up or away.
    async fn on_room_event(&mut self, data: &Value) {
        self.up.extend(feed_ids(&data["publishers"]));
        for key in ["unpublished", "leaving", "kicked"] {
            if let Some(feed) = data[key].as_u64() {
                self.up.remove(&feed);
                self.unsubscribe(feed).await;
            }
        }
    }

    async fn unsubscribe(&mut self, feed: u64) {
        if let Some(sub) = self.subs.remove(&feed) {
            self.done.subscriber_bytes_received += sub.bytes_received().await;
            self.done.frames_received += sub.frames_received();
            self.closing.push(tokio::spawn(sub.close()));
        }
    }

    /// Fills in `summary`: every feed we received, and bytes and frames of
    /// all subscriptions, closed ones included.
    async fn summarize(&self, publisher: &SfuPublisher, summary: &mut SfuSummary) {
        summary.publisher_bytes_sent = publisher.bytes_sent().await;
        summary.feeds = self.done.feeds.clone();
        summary.subscriber_bytes_received = self.done.subscriber_bytes_received;
        summary.frames_received = self.done.frames_received;
        for sub in self.subs.values() {
            summary.subscriber_bytes_received += sub.bytes_received().await;
            summary.frames_received += sub.frames_received();
        }
    }

    /// Closes every subscription at once, and waits for those closing already.
    async fn close_all(&mut self) {
        futures_util::future::join_all(self.subs.drain().map(|(_, sub)| sub.close())).await;
        for task in self.closing.drain(..) {
            let _ = task.await;
        }
    }
}
