//! The host's side of SRDP, sans-IO: register reads and writes queued by
//! the bridge become request frames, one transfer at a time (a device
//! holds one frame), each frame with the next sequence number; replies
//! are matched by the `seq` they echo. A register longer than one frame
//! moves in several, by `pos`. The device's own CHANGE requests are
//! ACKed with their `seq` and handed up. Time arrives as `now`.
//!
//! ```text
//!  request(op) ─► queue ─► poll_transmit: REQ frames ─► device
//!  device ─► handle_frame: ACK / ERR / REQ CHANGE ─► poll_event: Done, Change
//!  handle_timeout(now): a frame unanswered for `timeout` fails its transfer
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::eds::types::{Extent, MAX_REGISTER_BYTES};
use super::frame::{Frame, FrameType, Opcode};

/// The error codes of ERR frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceError(pub i32);

/// What a transfer asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Read the whole register of `extent`.
    Read {
        /// The device index.
        device: u16,
        /// The register index.
        register: u16,
        /// Its size, to know when the transfer is done.
        extent: Extent,
    },
    /// Write `data` from position 0.
    Write {
        /// The device index.
        device: u16,
        /// The register index.
        register: u16,
        /// The register's new bytes.
        data: Bytes,
    },
}

/// Why a transfer failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The device answered ERR.
    #[error("the device answered ERR {} ({})", .0.0, .0.describe())]
    Device(DeviceError),
    /// No answer in time.
    #[error("no answer within {0} ms")]
    Timeout(u128),
    /// The answer does not fit the register.
    #[error("{0}")]
    BadReply(String),
    /// The link to the device went away.
    #[error("the device link is down")]
    LinkDown,
}

/// What the channel reports.
#[derive(Debug)]
pub enum ChannelEvent<T> {
    /// A transfer ended: the register's bytes (empty for a write).
    Done(T, Result<Bytes, Failure>),
    /// The device says a register changed: `data` from `position`.
    Change {
        /// The device index.
        device: u16,
        /// The register index.
        register: u16,
        /// Where the data starts.
        position: u16,
        /// The changed bytes.
        data: Bytes,
    },
}

/// The host's channel to one adapter. `T` travels with each transfer back
/// to its requester.
#[derive(Debug)]
pub struct Channel<T> {
    max_data: usize,
    timeout: Duration,
    max_queued: usize,
    seq: u16,
    queue: VecDeque<(T, Operation)>,
    current: Option<Transfer<T>>,
    transmit: VecDeque<Frame>,
    events: VecDeque<ChannelEvent<T>>,
    counts: ChannelCounts,
}

/// What the channel saw that it did not expect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelCounts {
    /// Replies whose `seq` matched no frame in flight (late, or stray).
    pub unmatched: u64,
    /// CHANGE requests dropped because too many events waited.
    pub changes_dropped: u64,
}

/// The transfer in flight.
#[derive(Debug)]
struct Transfer<T> {
    token: T,
    operation: Operation,
    /// The register's bytes read so far, or the bytes written so far.
    done: BytesMut,
    /// The frame in flight: its `seq`, position, length, and deadline.
    seq: u16,
    position: u16,
    length: u16,
    deadline: Instant,
}

/// The most events (and CHANGE ACKs) waiting for the driver; it drains
/// them after each input, so only a flood of CHANGEs reaches this.
const MAX_PENDING: usize = 256;

impl<T> Channel<T> {
    /// A channel of frames of at most `max_data` data bytes, each
    /// answered within `timeout`, at most `max_queued` transfers waiting.
    pub fn new(max_data: usize, timeout: Duration, max_queued: usize) -> Self {
        Channel {
            max_data: max_data.max(1),
            timeout,
            max_queued,
            seq: 0,
            queue: VecDeque::new(),
            current: None,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            counts: ChannelCounts::default(),
        }
    }

    /// Queues a transfer; gives it back when the queue is full.
    pub fn request(&mut self, token: T, operation: Operation, now: Instant) -> Result<(), T> {
        if self.queue.len() >= self.max_queued {
            return Err(token);
        }
        self.queue.push_back((token, operation));
        self.start_next(now);
        Ok(())
    }

    /// The next frame to send.
    pub fn poll_transmit(&mut self) -> Option<Frame> {
        self.transmit.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ChannelEvent<T>> {
        self.events.pop_front()
    }

    /// When [`Channel::handle_timeout`] is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.current.as_ref().map(|t| t.deadline)
    }

    /// What it counted.
    pub fn counts(&self) -> ChannelCounts {
        self.counts
    }

    /// Fails the transfer in flight when its frame is overdue.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.current.as_ref().is_some_and(|t| now >= t.deadline) {
            self.finish(Err(Failure::Timeout(self.timeout.as_millis())), now);
        }
    }

    /// Fails every transfer, in flight and queued (the link went down).
    pub fn fail_all(&mut self) {
        if let Some(transfer) = self.current.take() {
            self.events
                .push_back(ChannelEvent::Done(transfer.token, Err(Failure::LinkDown)));
        }
        for (token, _) in self.queue.drain(..) {
            self.events
                .push_back(ChannelEvent::Done(token, Err(Failure::LinkDown)));
        }
        self.transmit.clear();
    }

    /// Takes a frame from the device.
    pub fn handle_frame(&mut self, frame: Frame, now: Instant) {
        match (frame.frame_type, frame.opcode) {
            (FrameType::Req, Opcode::Change) => self.change(frame),
            (FrameType::Ack | FrameType::Err, Opcode::Read | Opcode::Write) => {
                self.reply(frame, now)
            }
            // SYNC, a request a host does not serve, or an ACK of a CHANGE.
            _ => self.counts.unmatched += 1,
        }
    }

    fn change(&mut self, frame: Frame) {
        if self.events.len() >= MAX_PENDING || self.transmit.len() >= MAX_PENDING {
            self.counts.changes_dropped += 1;
            return;
        }
        self.transmit.push_back(Frame {
            frame_type: FrameType::Ack,
            opcode: Opcode::Change,
            device: frame.device,
            seq: frame.seq,
            register: frame.register,
            position: frame.position,
            length: 0,
            data: Bytes::new(),
        });
        self.events.push_back(ChannelEvent::Change {
            device: frame.device,
            register: frame.register,
            position: frame.position,
            data: frame.data,
        });
    }

    fn reply(&mut self, frame: Frame, now: Instant) {
        let Some(transfer) = &mut self.current else {
            self.counts.unmatched += 1;
            return;
        };
        let (device, register, reading) = match &transfer.operation {
            Operation::Read {
                device, register, ..
            } => (*device, *register, true),
            Operation::Write {
                device, register, ..
            } => (*device, *register, false),
        };
        let opcode = if reading { Opcode::Read } else { Opcode::Write };
        if frame.seq != transfer.seq
            || frame.opcode != opcode
            || frame.device != device
            || frame.register != register
        {
            self.counts.unmatched += 1;
            return;
        }
        if frame.frame_type == FrameType::Err {
            let code = frame
                .data
                .get(..4)
                .map_or(0, |b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            self.finish(Err(Failure::Device(DeviceError(code))), now);
            return;
        }
        let outcome = if reading {
            transfer.read_more(&frame)
        } else {
            transfer.wrote(&frame)
        };
        match outcome {
            Err(failure) => self.finish(Err(failure), now),
            Ok(true) => {
                let done = std::mem::take(&mut transfer.done).freeze();
                self.finish(Ok(if reading { done } else { Bytes::new() }), now);
            }
            Ok(false) => {
                let frame = self.next_frame(now);
                self.transmit.extend(frame);
            }
        }
    }

    /// Ends the transfer in flight and starts the next.
    fn finish(&mut self, outcome: Result<Bytes, Failure>, now: Instant) {
        if let Some(transfer) = self.current.take() {
            self.events
                .push_back(ChannelEvent::Done(transfer.token, outcome));
        }
        self.start_next(now);
    }

    fn start_next(&mut self, now: Instant) {
        if self.current.is_some() {
            return;
        }
        let Some((token, operation)) = self.queue.pop_front() else {
            return;
        };
        self.current = Some(Transfer {
            token,
            operation,
            done: BytesMut::new(),
            seq: 0,
            position: 0,
            length: 0,
            deadline: now,
        });
        let frame = self.next_frame(now);
        self.transmit.extend(frame);
    }

    /// The next request frame of the transfer in flight.
    fn next_frame(&mut self, now: Instant) -> Option<Frame> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let max = self.max_data;
        let transfer = self.current.as_mut()?;
        // Positions fit u16: registers are at most MAX_REGISTER_BYTES.
        let position = transfer.done.len() as u16;
        let frame = match &transfer.operation {
            Operation::Read {
                device,
                register,
                extent,
            } => {
                let length = match extent.total(&transfer.done) {
                    // The whole register fits a frame: ask for it whole.
                    Some(total) if transfer.done.is_empty() && total <= max => 0,
                    Some(total) => total.saturating_sub(transfer.done.len()).min(max),
                    // The length prefix is not known yet: as much as fits.
                    None => 0,
                };
                Frame {
                    frame_type: FrameType::Req,
                    opcode: Opcode::Read,
                    device: *device,
                    seq,
                    register: *register,
                    position,
                    length: length as u16,
                    data: Bytes::new(),
                }
            }
            Operation::Write {
                device,
                register,
                data,
            } => {
                let start = transfer.done.len();
                let chunk = data.slice(start..(start + max).min(data.len()));
                Frame {
                    frame_type: FrameType::Req,
                    opcode: Opcode::Write,
                    device: *device,
                    seq,
                    register: *register,
                    position,
                    length: chunk.len() as u16,
                    data: chunk,
                }
            }
        };
        transfer.seq = seq;
        transfer.position = frame.position;
        transfer.length = frame.length;
        transfer.deadline = now + self.timeout;
        Some(frame)
    }
}

impl<T> Transfer<T> {
    /// Takes an ACK of a READ; whether the register is complete.
    fn read_more(&mut self, frame: &Frame) -> Result<bool, Failure> {
        let Operation::Read { extent, .. } = &self.operation else {
            return Ok(false);
        };
        if frame.position != self.position {
            return Err(Failure::BadReply(format!(
                "the device answered position {} for a read at {}",
                frame.position, self.position
            )));
        }
        if self.length != 0 && frame.data.len() > usize::from(self.length) {
            return Err(Failure::BadReply(format!(
                "the device answered {} bytes for a read of {}",
                frame.data.len(),
                self.length
            )));
        }
        if frame.data.is_empty() {
            return Err(Failure::BadReply(format!(
                "the register ended after {} bytes",
                self.done.len()
            )));
        }
        self.done.extend_from_slice(&frame.data);
        match extent.total(&self.done) {
            Some(total) if total > MAX_REGISTER_BYTES => Err(Failure::BadReply(format!(
                "the length prefix announces {total} bytes, more than a register holds"
            ))),
            Some(total) if self.done.len() > total => Err(Failure::BadReply(format!(
                "the device sent {} bytes of a register of {total}",
                self.done.len()
            ))),
            Some(total) => Ok(self.done.len() == total),
            None => Ok(false),
        }
    }

    /// Takes an ACK of a WRITE; whether all bytes are written.
    fn wrote(&mut self, frame: &Frame) -> Result<bool, Failure> {
        let Operation::Write { data, .. } = &self.operation else {
            return Ok(false);
        };
        if frame.position != self.position || frame.length != self.length {
            return Err(Failure::BadReply(format!(
                "the device acknowledged {} bytes at {} for a write of {} at {}",
                frame.length, frame.position, self.length, self.position
            )));
        }
        let end = usize::from(self.position) + usize::from(self.length);
        self.done.resize(end, 0);
        Ok(end >= data.len())
    }
}

impl DeviceError {
    /// What the code means, as the SRDP documents name them.
    pub fn describe(self) -> &'static str {
        match self.0 {
            -1 => "not implemented",
            -2 => "no such device",
            -3 => "no such register",
            -4 => "invalid register position and/or length",
            -5 => "invalid register operation",
            _ => "unknown error",
        }
    }
}

#[cfg(test)]
mod tests;
