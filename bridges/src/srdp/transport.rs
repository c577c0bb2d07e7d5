//! The byte pipes to an adapter: a serial line (`tokio-serial`: the
//! serialport crate's termios handling on tokio's reactor), or a UDP
//! socket connected to the adapter, one frame per datagram.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UdpSocket;
use tokio_serial::SerialPortBuilderExt;

use super::config::SrdpTransport;

/// An open pipe to the adapter.
pub(crate) enum Link {
    /// A serial line: a byte stream, frames resynchronised by CRC.
    Serial(tokio_serial::SerialStream),
    /// A connected UDP socket: one frame per datagram.
    Udp(UdpSocket),
}

impl Link {
    /// Opens `transport`.
    pub(crate) async fn open(transport: &SrdpTransport) -> io::Result<Link> {
        match transport {
            SrdpTransport::Serial { port, baudrate } => {
                let port = port.to_string_lossy();
                let stream = tokio_serial::new(port, *baudrate)
                    .timeout(std::time::Duration::ZERO)
                    .open_native_async()
                    .map_err(io::Error::from)?;
                Ok(Link::Serial(stream))
            }
            SrdpTransport::Udp { host, port } => {
                let target = tokio::net::lookup_host((host.as_str(), *port))
                    .await?
                    .next()
                    .ok_or_else(|| io::Error::other(format!("{host} has no address")))?;
                let local: std::net::SocketAddr = if target.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                };
                let socket = UdpSocket::bind(local).await?;
                socket.connect(target).await?;
                Ok(Link::Udp(socket))
            }
        }
    }

    /// Whether frames come as a byte stream (to resynchronise).
    pub(crate) fn is_stream(&self) -> bool {
        matches!(self, Link::Serial(_))
    }

    /// Sends one frame's bytes.
    pub(crate) async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Link::Serial(stream) => stream.write_all(bytes).await,
            Link::Udp(socket) => socket.send(bytes).await.map(|_| ()),
        }
    }

    /// Receives bytes (a serial read, or one datagram) into `buffer`.
    /// A closed line is an error.
    pub(crate) async fn receive(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match self {
            Link::Serial(stream) => match stream.read(buffer).await? {
                0 => Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the line was closed",
                )),
                n => Ok(n),
            },
            Link::Udp(socket) => loop {
                match socket.recv(buffer).await {
                    // The adapter's port was closed (an ICMP answer to a
                    // previous datagram): nothing to read, keep waiting.
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                    other => return other,
                }
            },
        }
    }
}
