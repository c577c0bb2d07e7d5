#![allow(clippy::unwrap_used, clippy::panic)]
use std::collections::HashMap;

use super::*;
use crate::srdp::frame::DEFAULT_MAX_DATA_BYTES;

const MAX: usize = DEFAULT_MAX_DATA_BYTES;
const TIMEOUT: Duration = Duration::from_millis(500);

/// A register device in memory: answers READ and WRITE as the SRDP
/// adapter library does (len 0 = from `pos` to the end, at most a frame).
struct Registers(HashMap<(u16, u16), Vec<u8>>);

impl Registers {
    fn answer(&mut self, frame: &Frame) -> Frame {
        let mut reply = Frame {
            frame_type: FrameType::Ack,
            data: Bytes::new(),
            ..frame.clone()
        };
        let Some(register) = self.0.get_mut(&(frame.device, frame.register)) else {
            reply.frame_type = FrameType::Err;
            reply.data = Bytes::copy_from_slice(&(-3i32).to_le_bytes());
            reply.length = 4;
            reply.position = 0;
            return reply;
        };
        let start = usize::from(frame.position);
        match frame.opcode {
            Opcode::Read => {
                let end = match frame.length {
                    0 => register.len().min(start + MAX),
                    n => start + usize::from(n),
                };
                reply.data = Bytes::copy_from_slice(&register[start..end]);
                reply.length = reply.data.len() as u16;
            }
            _ => {
                let end = start + frame.data.len();
                if register.len() < end {
                    register.resize(end, 0);
                }
                register[start..end].copy_from_slice(&frame.data);
            }
        }
        reply
    }
}

/// Runs `channel` against `device` until nothing is left to send; the
/// frames the channel sent, and its events.
fn run(channel: &mut Channel<u32>, device: &mut Registers) -> (Vec<Frame>, Vec<ChannelEvent<u32>>) {
    let now = Instant::now();
    let mut sent = Vec::new();
    while let Some(frame) = channel.poll_transmit() {
        sent.push(frame.clone());
        if frame.frame_type == FrameType::Req {
            channel.handle_frame(device.answer(&frame), now);
        }
    }
    (sent, std::iter::from_fn(|| channel.poll_event()).collect())
}

fn device() -> Registers {
    let long: Vec<u8> = (0..150u8).collect();
    let mut text = vec![100, 0];
    text.extend(std::iter::repeat_n(b'x', 100));
    Registers(HashMap::from([
        ((2, 1024), vec![1, 2, 3]),
        ((2, 1025), long),
        ((2, 1026), text),
    ]))
}

fn read(register: u16, extent: Extent) -> Operation {
    Operation::Read {
        device: 2,
        register,
        extent,
    }
}

fn done(events: Vec<ChannelEvent<u32>>) -> Vec<(u32, Result<Bytes, Failure>)> {
    events
        .into_iter()
        .map(|e| match e {
            ChannelEvent::Done(token, outcome) => (token, outcome),
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn a_short_register_is_read_whole_in_one_frame() {
    let mut channel = Channel::new(MAX, TIMEOUT, 8);
    channel
        .request(7, read(1024, Extent::Fixed(3)), Instant::now())
        .unwrap();
    let (sent, events) = run(&mut channel, &mut device());
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].position, sent[0].length, sent[0].seq), (0, 0, 1));
    assert_eq!(done(events), [(7, Ok(Bytes::from_static(&[1, 2, 3])))]);
}

#[test]
fn a_long_register_moves_in_frames_by_position() {
    let mut channel = Channel::new(MAX, TIMEOUT, 8);
    channel
        .request(1, read(1025, Extent::Fixed(150)), Instant::now())
        .unwrap();
    let prefixed = Extent::Prefixed {
        prefix_bytes: 2,
        element_bytes: 1,
    };
    channel
        .request(2, read(1026, prefixed), Instant::now())
        .unwrap();
    let (sent, events) = run(&mut channel, &mut device());
    let asked: Vec<(u16, u16, u16)> = sent
        .iter()
        .map(|f| (f.register, f.position, f.length))
        .collect();
    assert_eq!(
        asked,
        [
            (1025, 0, 69),
            (1025, 69, 69),
            (1025, 138, 12),
            (1026, 0, 0),
            (1026, 69, 33)
        ]
    );
    let seqs: Vec<u16> = sent.iter().map(|f| f.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    let done = done(events);
    assert_eq!(
        done[0].1.as_ref().unwrap().to_vec(),
        (0..150u8).collect::<Vec<_>>()
    );
    assert_eq!(done[1].1.as_ref().unwrap().len(), 102);
}

#[test]
fn a_long_write_moves_in_frames_and_ends_with_the_last_ack() {
    let mut channel = Channel::new(MAX, TIMEOUT, 8);
    let data: Vec<u8> = (0..150u8).rev().collect();
    let write = Operation::Write {
        device: 2,
        register: 1025,
        data: data.clone().into(),
    };
    channel.request(3, write, Instant::now()).unwrap();
    let mut device = device();
    let (sent, events) = run(&mut channel, &mut device);
    assert_eq!(
        sent.iter().map(|f| f.data.len()).collect::<Vec<_>>(),
        [69, 69, 12]
    );
    assert_eq!(done(events), [(3, Ok(Bytes::new()))]);
    assert_eq!(device.0[&(2, 1025)], data);
}

#[test]
fn an_err_reply_fails_the_transfer_with_its_code() {
    let mut channel = Channel::new(MAX, TIMEOUT, 8);
    channel
        .request(4, read(999, Extent::Fixed(1)), Instant::now())
        .unwrap();
    let (_, events) = run(&mut channel, &mut device());
    let done = done(events);
    assert_eq!(done[0].1, Err(Failure::Device(DeviceError(-3))));
    assert_eq!(
        done[0].1.as_ref().unwrap_err().to_string(),
        "the device answered ERR -3 (no such register)"
    );
}

#[test]
fn silence_times_out_and_a_late_reply_is_ignored() {
    let start = Instant::now();
    let mut channel = Channel::new(MAX, TIMEOUT, 8);
    channel
        .request(5, read(1024, Extent::Fixed(3)), start)
        .unwrap();
    channel
        .request(6, read(1024, Extent::Fixed(3)), start)
        .unwrap();
    let first = channel.poll_transmit().unwrap();
    assert_eq!(channel.poll_timeout(), Some(start + TIMEOUT));
    channel.handle_timeout(start + TIMEOUT);
    assert!(matches!(
        channel.poll_event(),
        Some(ChannelEvent::Done(5, Err(Failure::Timeout(500))))
    ));
    // The late answer to the first frame matches nothing in flight.
    let mut device = device();
    channel.handle_frame(device.answer(&first), start + TIMEOUT);
    assert_eq!(channel.counts().unmatched, 1);
    let (_, events) = run(&mut channel, &mut device);
    assert_eq!(done(events), [(6, Ok(Bytes::from_static(&[1, 2, 3])))]);
}

#[test]
fn changes_are_acked_with_their_seq_and_reported() {
    let mut channel: Channel<u32> = Channel::new(MAX, TIMEOUT, 8);
    let change = Frame {
        frame_type: FrameType::Req,
        opcode: Opcode::Change,
        device: 3,
        seq: 41,
        register: 1025,
        position: 0,
        length: 2,
        data: Bytes::from_static(&[5, 6]),
    };
    channel.handle_frame(change, Instant::now());
    let ack = channel.poll_transmit().unwrap();
    assert_eq!(
        (
            ack.frame_type,
            ack.opcode,
            ack.seq,
            ack.device,
            ack.register
        ),
        (FrameType::Ack, Opcode::Change, 41, 3, 1025)
    );
    assert!(matches!(
        channel.poll_event(),
        Some(ChannelEvent::Change { device: 3, register: 1025, position: 0, data }) if data[..] == [5, 6]
    ));
}

#[test]
fn the_queue_is_bounded_and_a_lost_link_fails_everything() {
    let mut channel = Channel::new(MAX, TIMEOUT, 1);
    let now = Instant::now();
    channel
        .request(1, read(1024, Extent::Fixed(3)), now)
        .unwrap();
    channel
        .request(2, read(1024, Extent::Fixed(3)), now)
        .unwrap();
    assert_eq!(
        channel.request(3, read(1024, Extent::Fixed(3)), now),
        Err(3)
    );
    channel.fail_all();
    let done = done(std::iter::from_fn(|| channel.poll_event()).collect());
    assert_eq!(
        done,
        [(1, Err(Failure::LinkDown)), (2, Err(Failure::LinkDown))]
    );
    assert!(channel.poll_transmit().is_none());
}
