//! Binding listening sockets: one per core and TCP transport with
//! `SO_REUSEPORT`, so the kernel spreads connections across cores with no
//! accept lock; Unix sockets are bound once and served by core 0.

use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use socket2::{Domain, Protocol, Socket, Type};

use super::io::BoundSocket;
use crate::config::Endpoint;

/// Binds `endpoint` for one core. `None` for a Unix endpoint on a core other
/// than 0.
pub(crate) fn bind(endpoint: &Endpoint, core: usize) -> io::Result<Option<BoundSocket>> {
    match endpoint {
        Endpoint::Tcp {
            interface,
            port,
            backlog,
            ..
        } => {
            let ip = interface.unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
            let addr = SocketAddr::new(ip, *port);
            if core == 0 {
                // SO_REUSEPORT would let a second ringbar share the port
                // silently: a plain bind first fails if anything holds it.
                let probe =
                    Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
                if interface.is_none() {
                    probe.set_only_v6(false)?;
                }
                probe.set_reuse_address(true)?;
                probe.bind(&addr.into())?;
                drop(probe);
            }
            let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
            if interface.is_none() {
                // Every IPv4 and IPv6 address, as Crossbar.io listens.
                socket.set_only_v6(false)?;
            }
            socket.set_reuse_address(true)?;
            socket.set_reuse_port(true)?;
            socket.set_nodelay(true)?;
            socket.bind(&addr.into())?;
            socket.listen(i32::try_from(*backlog).unwrap_or(i32::MAX))?;
            Ok(Some(BoundSocket::Tcp(socket.into())))
        }
        Endpoint::Unix { path } => {
            if core != 0 {
                return Ok(None);
            }
            // A stale socket file from an earlier run would make bind fail.
            if std::fs::symlink_metadata(path)
                .map(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
                .unwrap_or(false)
            {
                std::fs::remove_file(path)?;
            }
            let listener = std::os::unix::net::UnixListener::bind(path)?;
            Ok(Some(BoundSocket::Unix(listener)))
        }
    }
}

/// The endpoint as text, for logs and errors.
pub(crate) fn describe(endpoint: &Endpoint) -> String {
    endpoint.to_string()
}
