//! Who is on the other end of a connection, as routing, logs and the
//! meta API name it (a driver's concern is the socket, not this).

use std::net::SocketAddr;

/// Who connected.
#[derive(Debug, Clone)]
pub enum Peer {
    /// A TCP peer.
    Tcp(SocketAddr),
    /// A Unix socket peer.
    Unix,
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Tcp(addr) => addr.fmt(f),
            Peer::Unix => f.write_str("unix"),
        }
    }
}
