//! `websocket.testee`: a plain WebSocket echo server, for running the
//! Autobahn WebSocket test suite against ringbar's framing code.

use std::cell::Cell;
use std::time::Duration;

use ringbar_protocol::websocket::deflate::Compressor;
use ringbar_protocol::websocket::{DataOpCode, OpCode, encode_frame};
use tokio::time::Instant;

use super::websocket::{accept, frame_parser, limits, run_frames};
use super::{Connection, http, spawn_writer};
use crate::config::WebSocketOptions;
use crate::runtime::io::Stream;
use ringbar_router::core::Core;
use ringbar_router::core::session::Flow;
use ringbar_router::local::peer::Peer;

/// Echoes every message back with its opcode (text as text, binary as
/// binary), compressed when permessage-deflate was agreed. Testee
/// connections are not WAMP sessions, so the echo bypasses the
/// slow-consumer limit of events.
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
    let Some(deflate) = accept(&stream, &request, None, options).await else {
        return;
    };
    let conn = Connection::new(stream, peer, &core);
    spawn_writer(core.clone(), conn.clone());
    let last_input = Cell::new(Instant::now());
    let mut compressor = deflate.as_ref().map(|params| params.server_compressor());
    let mut echo = |opcode: DataOpCode, payload: bytes::Bytes| {
        let opcode = OpCode::from(opcode);
        conn.outbound
            .push(echo_frame(compressor.as_mut(), opcode, &payload));
        Flow::Continue
    };
    let parser = frame_parser(options, deflate.as_ref());
    let close_timeout = Duration::from_millis(options.close_handshake_timeout_ms);
    run_frames(
        &core,
        &conn,
        parser,
        buf,
        close_timeout,
        &last_input,
        &mut echo,
    )
    .await;
    conn.outbound.close();
}

/// The echo of one message, compressed by `compressor` when there is one.
fn echo_frame(compressor: Option<&mut Compressor>, opcode: OpCode, payload: &[u8]) -> bytes::Bytes {
    if let Some(compressor) = compressor
        && let Ok(frame) = compressor.frame(opcode, payload, None)
    {
        return frame;
    }
    let mut out = bytes::BytesMut::with_capacity(payload.len() + 10);
    encode_frame(true, opcode, None, payload, &mut out);
    out.freeze()
}
