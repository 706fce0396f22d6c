//! The other members of the current call as the app shows them: a frame slot per
//! (peer, track), each member's audio on its own speaker stream with a level
//! meter, and the active speaker picked from those levels.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parley_proto::PeerId;

use super::{FrameSlot, MediaProvider};
use crate::call::{AudioSink, RemoteSinks, TrackKind, VideoSink};

/// Where one member of the call stands, as [`MemberInfo::state`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum MemberState {
    /// Invited (by us or another member); its client rings.
    Ringing,
    /// In the call; our peer link to it is being set up.
    Connecting,
    /// Media flows between us.
    Connected,
    /// Our link to it was lost; an ICE restart may bring it back.
    Reconnecting,
}

/// Another member of the current call (docs/ui-api.md `CallMember`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberInfo {
    /// The member's peer id.
    pub id: PeerId,
    /// Where it stands.
    pub state: MemberState,
    /// Its microphone is muted (its control channel says so).
    pub muted_audio: bool,
    /// Its camera is off.
    pub muted_video: bool,
    /// It shares its screen (frames in the `screen` slot of [`FrameSlots`]).
    pub sharing: bool,
}

impl MemberInfo {
    /// A member in `state`, nothing muted.
    pub fn new(id: PeerId, state: MemberState) -> Self {
        Self {
            id,
            state,
            muted_audio: false,
            muted_video: false,
            sharing: false,
        }
    }
}

/// Decoded video of every member, one [`FrameSlot`] per (peer, track). Cloning
/// shares the slots; a slot asked for before its track arrives is the one the
/// track's frames go to.
#[derive(Clone, Default)]
pub struct FrameSlots {
    inner: Arc<Mutex<HashMap<(PeerId, TrackKind), FrameSlot>>>,
}

impl FrameSlots {
    /// The slot of `peer`'s `track` (camera or screen), created when new.
    pub fn get(&self, peer: &PeerId, track: TrackKind) -> FrameSlot {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.entry((peer.clone(), track)).or_default().clone()
    }

    /// Forgets `peer`'s slots (it left the call): their frames go, and a slot
    /// nobody else holds goes too. A slot a reader still holds (a tile attached
    /// to it) stays, so frames of a member who comes back reach that reader.
    pub fn remove_peer(&self, peer: &PeerId) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|(p, _), slot| p != peer || Self::keep_emptied(slot));
    }

    /// Forgets every slot (a call starts or ended), as [`remove_peer`](Self::remove_peer)
    /// does for each peer: slots still held by a reader stay, emptied.
    pub fn clear(&self) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, slot| Self::keep_emptied(slot));
    }

    fn keep_emptied(slot: &FrameSlot) -> bool {
        slot.take();
        slot.is_shared()
    }
}

/// Audio level of each member: the RMS of its decoded audio (full scale 1.0),
/// rising at once and falling by [`LEVEL_DECAY`] per 20 ms block.
#[derive(Clone, Default)]
pub(crate) struct Levels(Arc<Mutex<HashMap<PeerId, f32>>>);

/// Per 20 ms block, the factor a level falls by when the audio gets quieter
/// (about 0.5 s from speech to silence).
const LEVEL_DECAY: f32 = 0.9;

impl Levels {
    fn set(&self, peer: &PeerId, rms: f32) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let level = map.entry(peer.clone()).or_default();
        *level = rms.max(*level * LEVEL_DECAY);
    }

    /// The current levels.
    pub(crate) fn snapshot(&self) -> HashMap<PeerId, f32> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn remove(&self, peer: &PeerId) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(peer);
    }

    pub(crate) fn clear(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// Measures one member's audio into [`Levels`].
struct LevelMeter {
    peer: PeerId,
    levels: Levels,
}

/// A meter that goes (its member left, or the speakers changed and a new meter
/// took over) takes its level with it: a level nobody updates any more must not
/// keep a member marked as speaking.
impl Drop for LevelMeter {
    fn drop(&mut self) {
        self.levels.remove(&self.peer);
    }
}

impl AudioSink for LevelMeter {
    fn samples(&mut self, samples: &[f32]) -> crate::Result<()> {
        if samples.is_empty() {
            return Ok(());
        }
        let energy: f32 = samples.iter().map(|s| s * s).sum();
        self.levels
            .set(&self.peer, (energy / samples.len() as f32).sqrt());
        Ok(())
    }
}

/// The app's sinks for a call: each member's camera and screen to its own slot
/// (the first member's camera also to the one-to-one view's slot, any member's
/// screen to the shared-screen slot, so the shared screen is large for
/// everyone), each member's audio to its own speaker stream (the system mixes
/// them) and a level meter.
pub(crate) struct AppSinks {
    pub slots: FrameSlots,
    /// The one-to-one view's slot, for the first member whose camera arrives.
    pub first_video: Option<FrameSlot>,
    pub screen: FrameSlot,
    pub media: Arc<dyn MediaProvider>,
    pub levels: Levels,
}

impl RemoteSinks for AppSinks {
    fn video(&mut self, peer: &PeerId, track: TrackKind) -> Vec<Box<dyn VideoSink>> {
        let mut sinks: Vec<Box<dyn VideoSink>> = vec![Box::new(self.slots.get(peer, track))];
        match track {
            TrackKind::Screen => sinks.push(Box::new(self.screen.clone())),
            _ => sinks.extend(
                self.first_video
                    .take()
                    .map(|s| Box::new(s) as Box<dyn VideoSink>),
            ),
        }
        sinks
    }

    fn audio(&mut self, peer: &PeerId) -> Vec<Box<dyn AudioSink>> {
        let mut sinks = self.media.audio_sinks();
        sinks.push(Box::new(LevelMeter {
            peer: peer.clone(),
            levels: self.levels.clone(),
        }));
        sinks
    }
}

/// RMS level (full scale 1.0) from which a member counts as speaking: about
/// -40 dBFS, above line noise and comfort noise, below quiet speech.
pub const SPEAKING_LEVEL: f32 = 0.01;
/// How long the active speaker stays marked after falling silent, ms.
pub const SPEAKER_HOLD_MS: u64 = 1500;

/// Picks the active speaker: the loudest member at or above [`SPEAKING_LEVEL`];
/// the current one stays until another is louder, or for [`SPEAKER_HOLD_MS`]
/// after it fell silent.
#[derive(Debug, Default)]
pub(crate) struct SpeakerPicker {
    current: Option<PeerId>,
    last_heard: Option<Instant>,
}

impl SpeakerPicker {
    /// The active speaker for `levels` at `now`.
    pub(crate) fn pick(&mut self, levels: &HashMap<PeerId, f32>, now: Instant) -> Option<PeerId> {
        let loudest = levels
            .iter()
            .filter(|(_, l)| **l >= SPEAKING_LEVEL)
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(p, _)| p.clone());
        match loudest {
            Some(p) => {
                self.current = Some(p);
                self.last_heard = Some(now);
            }
            None => {
                let held = self.last_heard.is_some_and(|t| {
                    now.duration_since(t) < Duration::from_millis(SPEAKER_HOLD_MS)
                });
                if !held {
                    self.current = None;
                }
            }
        }
        self.current.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(n: u8) -> PeerId {
        let key = ed25519_dalek::SigningKey::from_bytes(&[n; 32]);
        PeerId::from_public_key(&key.verifying_key())
    }

    #[test]
    fn slots_are_shared_per_peer_and_track_and_forgotten_with_the_peer() {
        let slots = FrameSlots::default();
        let (a, b) = (peer(1), peer(2));
        let frame = crate::media::I420Frame::new_black(4, 4);
        slots.get(&a, TrackKind::Camera).put(frame.clone());
        assert!(slots.get(&a, TrackKind::Screen).take().is_none());
        assert!(slots.get(&b, TrackKind::Camera).take().is_none());
        assert!(slots.get(&a, TrackKind::Camera).take().is_some());
        // A slot nobody holds goes with its peer; one a tile holds stays, emptied,
        // and frames put after (the member came back) still reach the tile.
        slots.get(&b, TrackKind::Camera).put(frame.clone());
        slots.remove_peer(&b);
        assert!(slots.get(&b, TrackKind::Camera).take().is_none());
        let held = slots.get(&b, TrackKind::Camera);
        held.put(frame.clone());
        slots.remove_peer(&b);
        assert!(held.take().is_none(), "emptied");
        slots.get(&b, TrackKind::Camera).put(frame.clone());
        assert!(held.take().is_some(), "the held slot is still the peer's");
        slots.clear();
        slots.get(&b, TrackKind::Camera).put(frame);
        assert!(held.take().is_some(), "also across a new call");
        drop(held);
        slots.clear();
        assert!(slots.inner.lock().unwrap().is_empty());
    }

    #[test]
    fn the_meter_follows_speech_and_decays_in_silence() {
        let levels = Levels::default();
        let mut meter = LevelMeter {
            peer: peer(1),
            levels: levels.clone(),
        };
        let tone: Vec<f32> = (0..960).map(|i| 0.3 * (i as f32 * 0.1).sin()).collect();
        meter.samples(&tone).unwrap();
        let loud = levels.snapshot()[&peer(1)];
        assert!((loud - 0.3 / 2f32.sqrt()).abs() < 0.01, "{loud}");
        for _ in 0..50 {
            meter.samples(&[0.0; 960]).unwrap();
        }
        assert!(levels.snapshot()[&peer(1)] < SPEAKING_LEVEL);
    }

    #[test]
    fn the_loudest_speaks_and_is_held_through_a_short_pause() {
        let (a, b) = (peer(1), peer(2));
        let mut picker = SpeakerPicker::default();
        let t0 = Instant::now();
        let quiet = HashMap::from([(a.clone(), 0.001), (b.clone(), 0.0)]);
        assert_eq!(picker.pick(&quiet, t0), None);
        let a_talks = HashMap::from([(a.clone(), 0.2), (b.clone(), 0.05)]);
        assert_eq!(picker.pick(&a_talks, t0), Some(a.clone()));
        let pause = t0 + Duration::from_millis(SPEAKER_HOLD_MS - 100);
        assert_eq!(picker.pick(&quiet, pause), Some(a.clone()));
        let b_talks = HashMap::from([(a.clone(), 0.02), (b.clone(), 0.3)]);
        assert_eq!(picker.pick(&b_talks, pause), Some(b.clone()));
        let later = pause + Duration::from_millis(SPEAKER_HOLD_MS + 1);
        assert_eq!(picker.pick(&quiet, later), None);
    }
}
