//! `websocket.testee`: a plain WebSocket echo server, for running the
//! Autobahn WebSocket test suite against ringbar's framing code.

use std::cell::Cell;

use ringbar_protocol::websocket::handshake;
use ringbar_protocol::websocket::{DataOpCode, OpCode, encode_frame};
use tokio::time::Instant;

use super::websocket::{limits, run_frames};
use super::{Connection, http, write_loop};
use crate::config::WebSocketOptions;
use crate::core::Core;
use crate::runtime::io::{Peer, Stream};
use crate::session::Flow;

/// Echoes every message back with its opcode (text as text, binary as
/// binary). Testee connections are not WAMP sessions, so the echo bypasses
/// the slow-consumer limit of events.
pub(super) async fn serve(
    core: std::rc::Rc<Core>,
    stream: Stream,
    peer: Peer,
    options: &WebSocketOptions,
) {
    let Some((request, buf)) = http::read_request(
        &stream,
        &peer,
        &limits(options),
        options.open_handshake_timeout_ms,
    )
    .await
    else {
        stream.shutdown();
        return;
    };
    let mut response = bytes::BytesMut::new();
    handshake::write_accept(&request, None, &mut response);
    if stream.write_all(vec![response.freeze()]).await.is_err() {
        return;
    }
    let conn = Connection::new(stream, peer, &core);
    tokio::task::spawn_local(write_loop(conn.clone()));
    let last_input = Cell::new(Instant::now());
    let mut echo = |opcode: DataOpCode, payload: bytes::Bytes| {
        let opcode = match opcode {
            DataOpCode::Text => OpCode::Text,
            DataOpCode::Binary => OpCode::Binary,
        };
        let mut out = bytes::BytesMut::with_capacity(payload.len() + 10);
        encode_frame(true, opcode, None, &payload, &mut out);
        conn.outbound.push(out.freeze());
        Flow::Continue
    };
    run_frames(&core, &conn, buf, options, &last_input, &mut echo).await;
    conn.outbound.close();
}
