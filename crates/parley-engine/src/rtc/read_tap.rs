//! An interceptor that looks at inbound packets (and may tag them) and passes
//! every packet on, both ways, in order: what the keyframe-request forwarder
//! and the feedback-coverage recorder have in common.

use std::collections::VecDeque;
use std::time::Instant;

use rtc::interceptor::{Interceptor, StreamInfo, TaggedPacket};

/// What a [`ReadTap`] does with each inbound packet before passing it on.
pub trait ReadObserver: Send + Sync + 'static {
    /// Sees (and may tag) one inbound packet.
    fn observe(&mut self, msg: &mut TaggedPacket);
}

/// An interceptor running `O` on inbound packets; see the module doc.
pub struct ReadTap<O> {
    observer: O,
    read_queue: VecDeque<TaggedPacket>,
    write_queue: VecDeque<TaggedPacket>,
}

impl<O: ReadObserver> ReadTap<O> {
    /// A tap running `observer`.
    pub fn new(observer: O) -> Self {
        Self {
            observer,
            read_queue: VecDeque::new(),
            write_queue: VecDeque::new(),
        }
    }
}

impl<O: ReadObserver> rtc::sansio::Protocol<TaggedPacket, TaggedPacket, ()> for ReadTap<O> {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        self.observer.observe(&mut msg);
        self.read_queue.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read_queue.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write_queue.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.write_queue.pop_front()
    }
}

impl<O: ReadObserver> Interceptor for ReadTap<O> {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}
