//! One recorder per member and track, however often the call asks for its sinks:
//! when a group call moves from the mesh to the SFU, the member's media arrives on
//! a new track, and its recording must go on in the same file rather than start
//! it again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use parley_engine::call::{AudioSink, VideoSink};
use parley_engine::media::I420Frame;
use parley_engine::Result;

/// A sink shared by every track that asks for the same key; the last holder's
/// `finish` finishes it (and a recorder dropped unfinished finishes itself).
pub struct SharedSink<S>(Arc<Mutex<S>>);

impl<S> SharedSink<S> {
    fn lock(&self) -> std::sync::MutexGuard<'_, S> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether no other track holds this sink.
    fn is_last(&self) -> bool {
        Arc::strong_count(&self.0) == 1
    }
}

impl<S: VideoSink> VideoSink for SharedSink<S> {
    fn frame(&mut self, frame: &I420Frame) -> Result<()> {
        self.lock().frame(frame)
    }
    fn finish(&mut self) -> Result<()> {
        if self.is_last() {
            self.lock().finish()
        } else {
            Ok(())
        }
    }
}

impl<S: AudioSink> AudioSink for SharedSink<S> {
    fn samples(&mut self, samples: &[f32]) -> Result<()> {
        self.lock().samples(samples)
    }
    fn finish(&mut self) -> Result<()> {
        if self.is_last() {
            self.lock().finish()
        } else {
            Ok(())
        }
    }
}

/// The shared sinks handed out so far, by key; a sink nobody holds any more is
/// made anew.
pub struct SharedSinks<K, S> {
    handed: HashMap<K, Weak<Mutex<S>>>,
}

impl<K: std::hash::Hash + Eq, S> Default for SharedSinks<K, S> {
    fn default() -> Self {
        SharedSinks {
            handed: HashMap::new(),
        }
    }
}

impl<K: std::hash::Hash + Eq, S> SharedSinks<K, S> {
    /// The sink for `key`: the one a track still holds, else `make()`'s (`None`
    /// when it cannot be made).
    pub fn get(&mut self, key: K, make: impl FnOnce() -> Option<S>) -> Option<SharedSink<S>> {
        if let Some(held) = self.handed.get(&key).and_then(Weak::upgrade) {
            return Some(SharedSink(held));
        }
        let sink = Arc::new(Mutex::new(make()?));
        self.handed.insert(key, Arc::downgrade(&sink));
        Some(SharedSink(sink))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Count {
        frames: usize,
        finished: usize,
    }
    struct Counted(Arc<Mutex<Count>>);
    impl VideoSink for Counted {
        fn frame(&mut self, _: &I420Frame) -> Result<()> {
            self.0.lock().unwrap().frames += 1;
            Ok(())
        }
        fn finish(&mut self) -> Result<()> {
            self.0.lock().unwrap().finished += 1;
            Ok(())
        }
    }

    #[test]
    fn a_key_asked_twice_shares_one_sink_finished_once_by_its_last_holder() {
        let count = Arc::new(Mutex::new(Count::default()));
        let mut sinks: SharedSinks<&str, Counted> = SharedSinks::default();
        let make = || Some(Counted(Arc::clone(&count)));
        let mut first = sinks.get("bob", make).unwrap();
        let mut second = sinks.get("bob", || panic!("made again")).unwrap();
        let frame = I420Frame::new_black(16, 16);
        first.frame(&frame).unwrap();
        second.frame(&frame).unwrap();
        first.finish().unwrap();
        drop(first);
        assert_eq!(count.lock().unwrap().finished, 0, "finished while held");
        second.finish().unwrap();
        assert_eq!(count.lock().unwrap().frames, 2);
        assert_eq!(count.lock().unwrap().finished, 1);
        drop(second);
        let made_again = std::cell::Cell::new(false);
        sinks.get("bob", || {
            made_again.set(true);
            Some(Counted(Arc::clone(&count)))
        });
        assert!(made_again.get(), "a sink nobody holds is made anew");
    }
}
