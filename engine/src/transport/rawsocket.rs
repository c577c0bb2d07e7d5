//! WAMP over RawSocket: the 4-octet handshake, then length-prefixed frames.

use std::future::poll_fn;
use std::rc::Rc;
use std::time::Duration;

use bytes::BytesMut;
use ringbar_protocol::rawsocket::{
    Frame, FrameType, HANDSHAKE_LEN, MaxMessageLength, SerializerSet, ServerHandshake, ServerPolicy,
};

use super::read_size::ReadSize;
use super::{Connection, spawn_writer};
use crate::config::RawSocketTransport;
use crate::runtime::io::Stream;
use ringbar_router::core::Core;
use ringbar_router::core::session::{Flow, SessionDriver};
use ringbar_router::local::peer::Peer;
use ringbar_router::wire::deflate::Compression;
use ringbar_router::wire::{Framing, RAWSOCKET_PREFIX_BYTES, Wire};

/// The first buffer's room (the handshake is 4 octets; reads then adapt).
const HANDSHAKE_READ_BYTES: usize = 4 * 1024;

/// Serves one RawSocket connection; `buf` holds what was already read
/// from it (by the universal transport's sniffer).
pub(super) async fn serve(
    core: Rc<Core>,
    stream: Stream,
    peer: Peer,
    transport: &RawSocketTransport,
    mut buf: BytesMut,
) {
    let read_hello = async {
        buf.reserve(HANDSHAKE_READ_BYTES);
        while buf.len() < HANDSHAKE_LEN {
            let (result, b) = stream.read(buf, HANDSHAKE_LEN).await;
            buf = b;
            if !matches!(result, Ok(n) if n > 0) {
                return None;
            }
        }
        let octets = buf.split_to(HANDSHAKE_LEN);
        Some(([octets[0], octets[1], octets[2], octets[3]], buf))
    };
    let timeout = Duration::from_millis(core.shared.limits.handshake_timeout_ms);
    let Ok(Some((hello, mut buf))) = tokio::time::timeout(timeout, read_hello).await else {
        stream.shutdown();
        return;
    };
    let max =
        MaxMessageLength::at_most(transport.max_message_bytes).unwrap_or(MaxMessageLength::MIN);
    let policy = ServerPolicy::new(
        transport
            .serializers
            .iter()
            .copied()
            .collect::<SerializerSet>(),
        max,
    );
    let negotiated = match policy.accept(hello) {
        ServerHandshake::Accepted { negotiated, reply } => {
            if stream
                .write_all(vec![bytes::Bytes::copy_from_slice(&reply)])
                .await
                .is_err()
            {
                return;
            }
            negotiated
        }
        ServerHandshake::Rejected { code, reply } => {
            tracing::info!(%peer, ?code, "RawSocket handshake refused");
            let _ = stream
                .write_all(vec![bytes::Bytes::copy_from_slice(&reply)])
                .await;
            stream.shutdown();
            return;
        }
        ServerHandshake::NotRawSocket { octet } => {
            tracing::info!(%peer, first_octet = octet, "not a RawSocket client: closed");
            stream.shutdown();
            return;
        }
    };
    let conn = Connection::new(stream, peer, &core);
    conn.max_frame_bytes.set(
        negotiated
            .send_max
            .bytes()
            .saturating_add(RAWSOCKET_PREFIX_BYTES),
    );
    spawn_writer(core.clone(), conn.clone());
    let wire = Wire {
        serializer: negotiated.serializer,
        framing: Framing::RawSocket,
        batched: false,
        compression: Compression::Off,
    };
    let mut session = SessionDriver::new(
        core.clone(),
        conn.link.clone(),
        wire,
        transport.auth.clone(),
    );
    let mut parser = negotiated.frame_parser();
    let encoder = negotiated.frame_encoder();
    let mut read_size = ReadSize::new();
    'read: loop {
        loop {
            if conn.outbound.is_full() {
                // The reader is about to wait for room.
                session.deliver_held();
            }
            poll_fn(|cx| conn.outbound.poll_writable(cx)).await;
            match parser.parse(&mut buf) {
                Ok(Some(Frame::Message(payload))) => {
                    let more = !buf.is_empty();
                    let mut flow = session.on_message_more(payload, more);
                    if flow == Flow::Continue {
                        flow = poll_fn(|cx| session.poll_settled(cx)).await;
                    }
                    if flow != Flow::Continue {
                        break 'read;
                    }
                }
                Ok(Some(Frame::Ping(payload))) => {
                    let mut out = BytesMut::new();
                    if encoder.encode(FrameType::Pong, &payload, &mut out).is_ok() {
                        conn.outbound.push(out.freeze());
                    }
                }
                Ok(Some(Frame::Pong(_))) => {}
                Ok(None) => {
                    session.deliver_held();
                    break;
                }
                Err(e) => {
                    session.deliver_held();
                    tracing::info!(peer = %conn.peer, error = %e, "RawSocket protocol error");
                    let _ = session.protocol_violation(&e.to_string());
                    break 'read;
                }
            }
        }
        if core.has_backlog() {
            crate::runtime::waits::flush_backlog(&core).await;
        }
        read_size.trim(&mut buf);
        let (result, b) = conn.stream.read(buf, read_size.next()).await;
        buf = b;
        match result {
            Ok(n) if n > 0 => {
                read_size.observe(n);
                conn.note_read(n, core.now());
            }
            _ => break,
        }
    }
    session.on_close();
    conn.outbound.close();
}
