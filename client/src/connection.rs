//! One connection to a router carrying WAMP messages in JSON, over the
//! transport its [`Url`] names: WebSocket (over TLS for `wss://`), or
//! RawSocket on TCP or a Unix socket.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ringbar_protocol::codec::{self, Serializer};
use ringbar_protocol::message::Message;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::Error;
use crate::rawsocket::RawSocket;
use crate::tls::TlsRoots;
use crate::url::{Url, UrlTransport};
use crate::websocket::WebSocket;

/// How long connecting and the opening handshake may take.
pub(crate) const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// The serializer spoken: JSON is offered by every router.
pub(crate) const SERIALIZER: Serializer = Serializer::Json;

/// An open connection speaking WAMP in JSON.
#[derive(Debug)]
pub struct Connection(Transport);

#[derive(Debug)]
enum Transport {
    // Boxed: a WebSocket's parser state is three times a RawSocket's.
    WebSocket(Box<WebSocket>),
    RawSocket(RawSocket),
}

impl Connection {
    /// Connects to `url` and completes the transport's opening handshake;
    /// a `wss://` router's certificate must chain to the system's roots.
    pub async fn open(url: &Url) -> Result<Self, Error> {
        Self::open_with(url, None).await
    }

    /// [`Connection::open`], a `wss://` router's certificate chaining to
    /// `roots` when given.
    pub async fn open_with(url: &Url, roots: Option<&TlsRoots>) -> Result<Self, Error> {
        let open = async {
            Ok(Connection(match url.transport {
                UrlTransport::WebSocket => {
                    Transport::WebSocket(Box::new(WebSocket::open(url, roots).await?))
                }
                UrlTransport::RawSocket | UrlTransport::RawSocketUnix => {
                    Transport::RawSocket(RawSocket::open(url).await?)
                }
            }))
        };
        tokio::time::timeout(OPEN_TIMEOUT, open)
            .await
            .map_err(|_| Error::Timeout(format!("connecting to {url}")))?
    }

    /// The connection's `tls-exporter` channel binding (RFC 9266): on
    /// `wss://` with TLS 1.3, else `None`.
    pub fn tls_exporter(&self) -> Option<[u8; 32]> {
        match &self.0 {
            Transport::WebSocket(ws) => ws.tls_exporter(),
            Transport::RawSocket(_) => None,
        }
    }

    /// Sends `message` (and whatever was queued before it).
    pub async fn send(&mut self, message: &Message) -> Result<(), Error> {
        self.queue(message)?;
        self.flush().await
    }

    /// Queues `message` to go out with the next [`Connection::flush`]:
    /// a batch of messages costs one write. Bound the batch with
    /// [`Connection::queued_bytes`].
    pub fn queue(&mut self, message: &Message) -> Result<(), Error> {
        match &mut self.0 {
            Transport::WebSocket(ws) => ws.queue(message),
            Transport::RawSocket(rs) => rs.queue(message),
        }
    }

    /// The bytes queued and not yet written.
    pub fn queued_bytes(&self) -> usize {
        match &self.0 {
            Transport::WebSocket(ws) => ws.queued_bytes(),
            Transport::RawSocket(rs) => rs.queued_bytes(),
        }
    }

    /// Writes what is queued, in the order it was queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        match &mut self.0 {
            Transport::WebSocket(ws) => ws.flush().await,
            Transport::RawSocket(rs) => rs.flush().await,
        }
    }

    /// The next WAMP message. Cancel-safe: a message is never lost when
    /// the future is dropped (bytes read stay in the buffer).
    pub async fn receive(&mut self) -> Result<Message, Error> {
        match &mut self.0 {
            Transport::WebSocket(ws) => ws.receive().await,
            Transport::RawSocket(rs) => rs.receive().await,
        }
    }

    /// Closes the connection (a WebSocket sends its Close first).
    pub async fn close(self) -> Result<(), Error> {
        match self.0 {
            Transport::WebSocket(ws) => ws.close().await,
            Transport::RawSocket(rs) => rs.close().await,
        }
    }
}

/// A received message's payload decoded; the error names `peer`.
pub(crate) fn decode(payload: Bytes, peer: &str) -> Result<Message, Error> {
    codec::decode(SERIALIZER, payload)
        .map_err(|e| Error::Protocol(format!("undecodable message from {peer}: {e}")))
}

/// Reads what `stream` has into `input`; 0 at its end.
pub(crate) async fn read_more(
    stream: &mut (impl AsyncRead + Unpin + ?Sized),
    input: &mut BytesMut,
    peer: &str,
) -> Result<usize, Error> {
    input.reserve(4096);
    stream.read_buf(input).await.map_err(|source| Error::Io {
        what: format!("reading from {peer}"),
        source,
    })
}

/// Writes all of `bytes` to `stream`.
pub(crate) async fn write_all(
    stream: &mut (impl AsyncWrite + Unpin + ?Sized),
    bytes: &[u8],
    peer: &str,
) -> Result<(), Error> {
    stream.write_all(bytes).await.map_err(|source| Error::Io {
        what: format!("writing to {peer}"),
        source,
    })
}

/// Writes all of `output` to `stream` and empties it, keeping its memory
/// for the next batch.
pub(crate) async fn flush(
    stream: &mut (impl AsyncWrite + Unpin + ?Sized),
    output: &mut BytesMut,
    peer: &str,
) -> Result<(), Error> {
    let written = write_all(stream, output, peer).await;
    output.clear();
    written
}

/// `N` random bytes from the operating system (WebSocket key and masks).
pub(crate) fn random<const N: usize>() -> Result<[u8; N], Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| Error::Io {
        what: "reading random bytes".to_owned(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(bytes)
}
