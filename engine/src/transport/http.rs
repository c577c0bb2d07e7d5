//! Reading a WebSocket upgrade request off a stream, within a deadline,
//! and refusing one.

use std::time::Duration;

use bytes::BytesMut;
use ringbar_protocol::websocket::WebSocketConfig;
use ringbar_protocol::websocket::handshake::{self, Request};

use crate::runtime::io::Stream;
use ringbar_router::local::peer::Peer;

/// Bytes read at a time while waiting for a request head: a WebSocket
/// upgrade request fits. A speed choice; the transport's header limits
/// bound what a peer may send.
const READ_BYTES: usize = 4096;

/// Reads one request head. On a malformed request the error response is
/// written and `None` returned; `None` also on timeout or end of stream.
/// The returned buffer holds whatever followed the head.
pub(crate) async fn read_request(
    stream: &Stream,
    peer: &Peer,
    limits: &WebSocketConfig,
    timeout_ms: u64,
) -> Option<(Request, BytesMut)> {
    let read = async {
        let mut buf = BytesMut::with_capacity(READ_BYTES);
        loop {
            match handshake::parse_request(&buf, limits) {
                Ok(Some((request, used))) => {
                    let _ = buf.split_to(used);
                    return Some((request, buf));
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::info!(%peer, error = %e, "bad HTTP request");
                    let mut out = BytesMut::new();
                    handshake::write_rejection(&e, &mut out);
                    let _ = stream.write_all(vec![out.freeze()]).await;
                    return None;
                }
            }
            let (result, b) = stream.read(buf, READ_BYTES).await;
            buf = b;
            match result {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    };
    if timeout_ms == 0 {
        return read.await;
    }
    match tokio::time::timeout(Duration::from_millis(timeout_ms), read).await {
        Ok(r) => r,
        Err(_) => {
            tracing::info!(%peer, timeout_ms, "opening handshake timed out");
            None
        }
    }
}

/// Writes a complete response with `status`, a plain-text `reason` body, and
/// closes the stream.
pub(crate) async fn respond_error(stream: &Stream, status: u16, reason: &str) {
    let mut out = BytesMut::new();
    handshake::write_error_response(status, reason, &mut out);
    let _ = stream.write_all(vec![out.freeze()]).await;
    stream.shutdown();
}
