//! One RawSocket connection to a router, over TCP or a Unix socket: the
//! 4-octet handshake (JSON, the largest message length offered), then
//! length-prefixed frames (PINGs answered).

use bytes::BytesMut;
use ringbar_protocol::codec;
use ringbar_protocol::message::Message;
use ringbar_protocol::rawsocket::{
    Frame, FrameEncoder, FrameParser, FrameType, HANDSHAKE_LEN, HandshakeRequest, MaxMessageLength,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

use crate::connection::{SERIALIZER, decode, flush, read_more, write_all};
use crate::error::Error;
use crate::url::{Url, UrlTransport};

/// An open RawSocket connection speaking WAMP in JSON.
pub(crate) struct RawSocket {
    stream: Box<dyn Stream>,
    parser: FrameParser,
    encoder: FrameEncoder,
    /// Bytes read and not yet parsed.
    input: BytesMut,
    /// Frames queued (messages and PONGs), written by the next flush.
    output: BytesMut,
    /// The payload being encoded (kept to reuse its memory).
    payload: BytesMut,
    /// Where it goes, for error messages.
    peer: String,
}

/// A byte stream to the router: TCP or Unix.
trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

impl std::fmt::Debug for RawSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RawSocket({})", self.peer)
    }
}

impl RawSocket {
    /// Connects to `url` (a RawSocket one) and completes the handshake.
    pub(crate) async fn open(url: &Url) -> Result<Self, Error> {
        let cannot = |source| Error::Io {
            what: format!("cannot connect to {url}"),
            source,
        };
        let stream: Box<dyn Stream> = match url.transport {
            UrlTransport::RawSocketUnix => {
                Box::new(UnixStream::connect(&url.path).await.map_err(cannot)?)
            }
            _ => {
                let stream = TcpStream::connect((url.host.as_str(), url.port))
                    .await
                    .map_err(cannot)?;
                // Requests are small and answered at once: no Nagle delay.
                let _ = stream.set_nodelay(true);
                Box::new(stream)
            }
        };
        let request = HandshakeRequest {
            serializer: SERIALIZER,
            max_message_length: MaxMessageLength::MAX,
        };
        let mut connection = RawSocket {
            stream,
            // Replaced once the router's reply says what it accepts.
            parser: FrameParser::new(MaxMessageLength::MAX),
            encoder: FrameEncoder::new(MaxMessageLength::MIN),
            input: BytesMut::with_capacity(4096),
            output: BytesMut::new(),
            payload: BytesMut::new(),
            peer: url.text.clone(),
        };
        connection.write(&request.to_bytes()).await?;
        let mut reply = [0u8; HANDSHAKE_LEN];
        connection
            .stream
            .read_exact(&mut reply)
            .await
            .map_err(|source| Error::Io {
                what: format!(
                    "{url} closed the connection during the RawSocket handshake (is it a RawSocket transport?)"
                ),
                source,
            })?;
        let negotiated = request
            .complete(reply)
            .map_err(|e| Error::Protocol(format!("RawSocket handshake with {url}: {e}")))?;
        connection.parser = negotiated.frame_parser();
        connection.encoder = negotiated.frame_encoder();
        Ok(connection)
    }

    /// Queues `message` behind what is queued; [`RawSocket::flush`]
    /// writes it.
    pub(crate) fn queue(&mut self, message: &Message) -> Result<(), Error> {
        self.payload.clear();
        codec::encode(SERIALIZER, message, &mut self.payload)
            .map_err(|e| Error::Protocol(format!("cannot encode {message:?}: {e}")))?;
        self.encoder
            .encode(FrameType::Message, &self.payload, &mut self.output)
            .map_err(|e| Error::Protocol(format!("to {}: {e}", self.peer)))
    }

    /// The bytes queued and not yet written.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.output.len()
    }

    /// Writes everything queued, in order, with as few system calls as
    /// the stream takes.
    pub(crate) async fn flush(&mut self) -> Result<(), Error> {
        flush(&mut self.stream, &mut self.output, &self.peer).await
    }

    /// The next WAMP message. Cancel-safe: bytes read stay in the buffer.
    pub(crate) async fn receive(&mut self) -> Result<Message, Error> {
        loop {
            let frame = self
                .parser
                .parse(&mut self.input)
                .map_err(|e| Error::Protocol(format!("from {}: {e}", self.peer)))?;
            match frame {
                Some(Frame::Message(payload)) => return decode(payload, &self.peer),
                Some(Frame::Ping(data)) => self
                    .encoder
                    .encode(FrameType::Pong, &data, &mut self.output)
                    .map_err(|e| Error::Protocol(format!("to {}: {e}", self.peer)))?,
                Some(Frame::Pong(_)) => {}
                None => {
                    if read_more(&mut self.stream, &mut self.input, &self.peer).await? == 0 {
                        return Err(Error::Closed(None));
                    }
                }
            }
        }
    }

    /// Shuts the connection down (RawSocket has no closing handshake).
    pub(crate) async fn close(mut self) -> Result<(), Error> {
        let _ = self.stream.shutdown().await;
        Ok(())
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        write_all(&mut self.stream, bytes, &self.peer).await
    }
}
