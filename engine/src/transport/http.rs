//! Reading an HTTP/1.1 request head off a stream, within a deadline, and
//! writing simple responses.

use std::time::Duration;

use bytes::BytesMut;
use ringbar_protocol::websocket::WebSocketConfig;
use ringbar_protocol::websocket::handshake::{self, Request};

use crate::runtime::io::{Peer, Stream};

/// Bytes read at a time while waiting for a request head.
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

/// Reads until a whole request head (up to the blank line) is in the
/// buffer, at most `max_bytes`; returns the buffer and the head's length.
pub(crate) async fn read_head(
    stream: &Stream,
    peer: &Peer,
    max_bytes: usize,
    timeout_ms: u64,
) -> Option<(BytesMut, usize)> {
    let read = async {
        let mut buf = BytesMut::with_capacity(READ_BYTES);
        loop {
            if let Some(at) = memchr_head_end(&buf) {
                return Some((buf, at));
            }
            if buf.len() > max_bytes {
                respond_error(stream, 431, "request head too large").await;
                return None;
            }
            let (result, b) = stream.read(buf, READ_BYTES).await;
            buf = b;
            match result {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    };
    match tokio::time::timeout(Duration::from_millis(timeout_ms.max(1)), read).await {
        Ok(r) => r,
        Err(_) => {
            tracing::info!(%peer, timeout_ms, "HTTP request timed out");
            None
        }
    }
}

/// The length of the head (through the blank line), once it is complete.
fn memchr_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| at + 4)
}

/// Writes a complete response with `status`, a plain-text `reason` body, and
/// closes the stream.
pub(crate) async fn respond_error(stream: &Stream, status: u16, reason: &str) {
    let mut out = BytesMut::new();
    handshake::write_error_response(status, reason, &mut out);
    let _ = stream.write_all(vec![out.freeze()]).await;
    stream.shutdown();
}

/// Writes a `200 OK` with `content_type` and `body`, and closes the stream.
pub(crate) async fn respond_ok(
    stream: &Stream,
    content_type: &str,
    body: Vec<u8>,
    head_only: bool,
) {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\nServer: ringbar\r\n\r\n",
        body.len()
    );
    let mut frames = vec![bytes::Bytes::from(head.into_bytes())];
    if !head_only {
        frames.push(bytes::Bytes::from(body));
    }
    let _ = stream.write_all(frames).await;
    stream.shutdown();
}
