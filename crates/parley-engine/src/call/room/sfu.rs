//! The room's side of a call through an SFU (protocol 4, docs/protocol.md §6.5):
//! the server's access starts our [`SfuSession`]; once it publishes, the local
//! media goes to the SFU instead of the peer links, which keep carrying chat,
//! files and control end to end. If the SFU fails, the links take the media
//! back.

use parley_proto::{PeerId, ServerMessage, SfuAccess, SfuFeed};
use tokio::sync::mpsc;

use super::Room;
use crate::call::media::{AudioSink, VideoSink};
use crate::call::sfu::{SfuGrant, SfuInput, SfuNews, SfuSession, SharedSinks};
use crate::call::{CallEvent, CallOptions, RemoteSinks, TrackKind};

/// News of the SFU task waiting for the room, news.
pub(super) const SFU_NEWS_QUEUE: usize = 16;

/// The SFU part of a room.
pub(super) struct RoomSfu {
    /// Whether the call's media goes through an SFU: the invite said so, or the
    /// server's access came. Peer links then carry no media.
    pub(super) expected: bool,
    /// The running SFU task, once the access came.
    pub(super) session: Option<SfuSession>,
    /// Our media goes to the SFU ([`CallEvent::MediaPath`] said so).
    publishing: bool,
    /// Where the task's news go (the room reads `news_rx`).
    news_tx: mpsc::Sender<SfuNews>,
    /// Taken by [`Room::run`].
    pub(super) news_rx: Option<mpsc::Receiver<SfuNews>>,
}

impl RoomSfu {
    /// Not started; `expected` when the invite said the call goes through an SFU.
    pub(super) fn new(expected: bool) -> RoomSfu {
        let (news_tx, news_rx) = mpsc::channel(SFU_NEWS_QUEUE);
        RoomSfu {
            expected,
            session: None,
            publishing: false,
            news_tx,
            news_rx: Some(news_rx),
        }
    }
}

impl Room {
    /// A signaling message of this call about the SFU; `None` when it is one,
    /// else the message back.
    pub(in crate::call) async fn on_sfu_signal(
        &mut self,
        msg: ServerMessage,
    ) -> Option<ServerMessage> {
        match msg {
            ServerMessage::Sfu { .. } | ServerMessage::SfuFeed { .. } if self.opts.refuse_sfu => {
                tracing::warn!("the server offers an SFU, refused; media stays peer to peer");
            }
            ServerMessage::Sfu { sfu, feeds, .. } => self.start_sfu(sfu, feeds).await,
            ServerMessage::SfuFeed { member, feed, .. } => match &self.sfu.session {
                Some(session) => session.send(SfuInput::Feed(member, feed)).await,
                None => tracing::debug!(%member, "a feed before our SFU access"),
            },
            other => return Some(other),
        }
        None
    }

    /// The server's access came: join the SFU (the media moves there once we
    /// publish).
    async fn start_sfu(&mut self, access: SfuAccess, feeds: Vec<SfuFeed>) {
        if self.sfu.session.is_some() {
            return;
        }
        if access.kind != "janus" {
            tracing::warn!(kind = %access.kind, "unsupported SFU; staying peer to peer");
            return self.sfu_failed("unsupported sfu".into()).await;
        }
        tracing::info!(
            room = access.room,
            feed = access.feed,
            "the call goes through the SFU"
        );
        self.sfu.expected = true;
        let grant = SfuGrant {
            url: access.url,
            room: access.room,
            pin: access.pin,
            token: access.token,
            feed: access.feed,
        };
        let feeds = feeds.into_iter().map(|f| (f.member, f.feed)).collect();
        // Members heard through the SFU are cancelled from our microphone too.
        let sinks = shared_sinks(&mut self.opts).with_echo(self.factory.echo());
        let rtc = self.factory.rtc_now();
        let news = self.sfu.news_tx.clone();
        self.sfu.session = Some(SfuSession::start(grant, feeds, rtc, sinks, news));
    }

    /// News of the SFU task.
    pub(super) async fn on_sfu_news(&mut self, news: SfuNews) {
        match news {
            SfuNews::Publishing(tracks) => {
                // Our media goes only to the SFU from now on.
                let peers: Vec<PeerId> = self.links.keys().cloned().collect();
                for peer in &peers {
                    self.media.detach(peer);
                }
                self.media.attach_sfu(tracks, &mut self.opts);
                if let Some(source) = self.opts.screen_source.take() {
                    self.start_screen(source).await;
                }
                self.sfu.publishing = true;
                let _ = self
                    .events
                    .send(CallEvent::MediaPath { via_sfu: true })
                    .await;
            }
            SfuNews::Failed(reason) => self.sfu_failed(reason).await,
        }
    }

    /// The SFU failed: the peer links carry the media again.
    async fn sfu_failed(&mut self, reason: String) {
        tracing::warn!("no SFU ({reason}); media goes peer to peer");
        self.sfu.expected = false;
        if let Some(session) = self.sfu.session.take() {
            // The media went through the SFU until now: the report says so.
            if let Some(summary) = session.close().await {
                self.report.sfu = Some(summary);
            }
        }
        self.media.detach_sfu();
        let connected: Vec<PeerId> = self
            .links
            .iter()
            .filter(|(_, l)| l.has_connected())
            .map(|(p, _)| p.clone())
            .collect();
        for peer in connected {
            if let Some(link) = self.links.get(&peer) {
                self.media
                    .attach(peer.clone(), link.tracks.clone(), &mut self.opts);
            }
        }
        if std::mem::take(&mut self.sfu.publishing) {
            let _ = self
                .events
                .send(CallEvent::MediaPath { via_sfu: false })
                .await;
        }
    }

    /// `peer` left: stop receiving it through the SFU.
    pub(super) async fn sfu_member_left(&mut self, peer: &PeerId) {
        if let Some(session) = &self.sfu.session {
            session.send(SfuInput::Left(peer.clone())).await;
        }
    }
}

/// The sinks for the SFU's subscribers: the call's per-member sinks, shared with
/// the links (the options keep a handle), or else the fixed sinks, which go to
/// the first member whose track asks.
fn shared_sinks(opts: &mut CallOptions) -> SharedSinks {
    let inner: Box<dyn RemoteSinks> = match opts.remote_sinks.take() {
        Some(sinks) => sinks,
        None => Box::new(FirstComer {
            video: std::mem::take(&mut opts.video_sinks),
            screen: std::mem::take(&mut opts.screen_sinks),
            audio: std::mem::take(&mut opts.audio_sinks),
        }),
    };
    let shared = SharedSinks::new(inner);
    opts.remote_sinks = Some(Box::new(shared.clone()));
    shared
}

/// The fixed sinks of a call, as [`RemoteSinks`]: each kind goes to the first
/// member that asks.
struct FirstComer {
    video: Vec<Box<dyn VideoSink>>,
    screen: Vec<Box<dyn VideoSink>>,
    audio: Vec<Box<dyn AudioSink>>,
}

impl RemoteSinks for FirstComer {
    fn video(&mut self, _peer: &PeerId, track: TrackKind) -> Vec<Box<dyn VideoSink>> {
        match track {
            TrackKind::Screen => std::mem::take(&mut self.screen),
            _ => std::mem::take(&mut self.video),
        }
    }
    fn audio(&mut self, _peer: &PeerId) -> Vec<Box<dyn AudioSink>> {
        std::mem::take(&mut self.audio)
    }
}
