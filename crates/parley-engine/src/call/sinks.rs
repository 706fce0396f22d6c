//! Where each member's decoded media goes: asked once per (peer, track) when the
//! member's track arrives, so a group call can give every member its own frame
//! slot and recorder.

use parley_proto::PeerId;

use super::{AudioSink, CallOptions, TrackKind, VideoSink};

/// Hands out the sinks for one member's tracks. Each method is called once per
/// (peer, track), when that track arrives; [`audio`](Self::audio) again for
/// every member when the speakers change (`CallCommand::SwitchSpeakers`), and
/// the sinks it returns then replace the member's earlier ones.
pub trait RemoteSinks: Send {
    /// Sinks for `peer`'s `track` (camera or screen; never the microphone).
    fn video(&mut self, peer: &PeerId, track: TrackKind) -> Vec<Box<dyn VideoSink>>;
    /// Sinks for `peer`'s microphone.
    fn audio(&mut self, peer: &PeerId) -> Vec<Box<dyn AudioSink>>;
}

impl CallOptions {
    /// The sinks for `peer`'s `track`: from [`CallOptions::remote_sinks`] when
    /// set, else the fixed `video_sinks` / `screen_sinks`, taken by the first
    /// member whose track asks (a one-to-one call's only member).
    pub(super) fn take_video_sinks(
        &mut self,
        peer: &PeerId,
        track: TrackKind,
    ) -> Vec<Box<dyn VideoSink>> {
        if let Some(r) = self.remote_sinks.as_mut() {
            return r.video(peer, track);
        }
        match track {
            TrackKind::Screen => std::mem::take(&mut self.screen_sinks),
            _ => std::mem::take(&mut self.video_sinks),
        }
    }

    /// The sinks for `peer`'s microphone, as [`CallOptions::take_video_sinks`].
    pub(super) fn take_audio_sinks(&mut self, peer: &PeerId) -> Vec<Box<dyn AudioSink>> {
        match self.remote_sinks.as_mut() {
            Some(r) => r.audio(peer),
            None => std::mem::take(&mut self.audio_sinks),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::I420Frame;

    struct Null;
    impl VideoSink for Null {
        fn frame(&mut self, _: &I420Frame) -> crate::Result<()> {
            Ok(())
        }
    }

    type Asked = std::sync::Arc<std::sync::Mutex<Vec<(PeerId, &'static str)>>>;

    /// Notes what it was asked for, by (peer, track).
    struct Keyed(Asked);
    impl RemoteSinks for Keyed {
        fn video(&mut self, peer: &PeerId, track: TrackKind) -> Vec<Box<dyn VideoSink>> {
            self.0.lock().unwrap().push((peer.clone(), track.as_str()));
            vec![Box::new(Null)]
        }
        fn audio(&mut self, peer: &PeerId) -> Vec<Box<dyn AudioSink>> {
            self.0.lock().unwrap().push((peer.clone(), "microphone"));
            Vec::new()
        }
    }

    fn peer(n: u8) -> PeerId {
        let key = ed25519_dalek::SigningKey::from_bytes(&[n; 32]);
        PeerId::from_public_key(&key.verifying_key())
    }

    #[test]
    fn fixed_sinks_go_to_the_first_member_that_asks() {
        let mut opts = CallOptions {
            video_sinks: vec![Box::new(Null)],
            screen_sinks: vec![Box::new(Null), Box::new(Null)],
            ..Default::default()
        };
        let (a, b) = (peer(1), peer(2));
        assert_eq!(opts.take_video_sinks(&a, TrackKind::Camera).len(), 1);
        assert_eq!(opts.take_video_sinks(&a, TrackKind::Screen).len(), 2);
        assert!(opts.take_video_sinks(&b, TrackKind::Camera).is_empty());
        assert!(opts.take_audio_sinks(&b).is_empty());
    }

    #[test]
    fn a_sink_factory_is_asked_per_member_and_track() {
        let mut opts = CallOptions::default();
        let (a, b) = (peer(1), peer(2));
        let asked = Asked::default();
        opts.remote_sinks = Some(Box::new(Keyed(asked.clone())));
        assert_eq!(opts.take_video_sinks(&a, TrackKind::Camera).len(), 1);
        assert_eq!(opts.take_video_sinks(&b, TrackKind::Camera).len(), 1);
        assert_eq!(opts.take_video_sinks(&b, TrackKind::Screen).len(), 1);
        assert!(opts.take_audio_sinks(&a).is_empty());
        let asked = asked.lock().unwrap().clone();
        assert_eq!(
            asked,
            vec![
                (a.clone(), "camera"),
                (b.clone(), "camera"),
                (b, "screen"),
                (a, "microphone")
            ]
        );
    }
}
