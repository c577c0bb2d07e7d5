//! A `universal` transport: one port for RawSocket, WebSocket and the web
//! service, told apart by the first octet a client sends, as Crossbar.io's
//! unisocket does: 0x7F opens a RawSocket handshake (RawSocket spec §3.1),
//! anything else is HTTP, where the websocket paths and the web paths
//! share one router.

use std::rc::Rc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::sync::watch;

use super::{Ticket, rawsocket, web};
use crate::config::UniversalTransport;
use crate::runtime::io::Stream;
use ringbar_router::core::Core;
use ringbar_router::local::peer::Peer;

/// The first octet of a RawSocket client hello.
const RAWSOCKET_MAGIC: u8 = 0x7F;

/// Bytes of the first read: an HTTP request head or a RawSocket handshake
/// and first message fit; reads then adapt to the protocol. A speed choice,
/// not a bound on peers (`ringbar_router::limits` holds those).
const SNIFF_READ_BYTES: usize = 4 * 1024;

/// Serves one connection by what its first octet says.
pub(super) async fn serve(
    core: Rc<Core>,
    stream: Stream,
    peer: Peer,
    universal: &UniversalTransport,
    shutdown: watch::Receiver<bool>,
    ticket: Ticket,
) {
    let timeout = Duration::from_millis(universal.web.options.request_head_timeout_ms);
    let first_read = tokio::time::timeout(timeout, stream.read(BytesMut::new(), SNIFF_READ_BYTES));
    let buf = match first_read.await {
        Ok((Ok(n), buf)) if n > 0 => buf,
        _ => {
            stream.shutdown();
            return;
        }
    };
    if buf[0] != RAWSOCKET_MAGIC {
        return web::serve(core, stream, peer, &universal.web, buf, shutdown, ticket).await;
    }
    match &universal.rawsocket {
        Some(rs) => rawsocket::serve(core, stream, peer, rs, buf).await,
        None => {
            tracing::info!(%peer, "RawSocket client on a universal transport without rawsocket: closed");
            stream.shutdown();
        }
    }
}
