//! A transport's `max_connections` holds over every core: connections over
//! it are closed at accept, and a place freed by a closed connection is
//! taken again. The node's `limits.max_connections` holds over every
//! transport together.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use ringbar_engine::config::IoBackend;
use ringbar_protocol::codec::Serializer;
use ringbar_protocol::rawsocket::{HandshakeRequest, MaxMessageLength};
use support::*;

const T: Transport = Transport::RawSocket(Serializer::Json);

/// How long a refused connection may take to be closed.
const CLOSED_WITHIN: Duration = Duration::from_secs(5);

fn capped(cores: usize, io: IoBackend) {
    let router = TestRouter::start_edited(cores, io, |config| {
        for transport in &mut config.transports {
            transport.max_connections = 3;
        }
    });
    // The kernel spreads these over the cores; the cap is for all of them.
    let mut joined: Vec<Client> = (0..3)
        .map(|_| {
            let mut client = Client::connect(&router, T);
            join(&mut client, "realm1");
            client
        })
        .collect();
    for _ in 0..4 {
        assert!(refused(router.rs_port), "a 4th connection is closed");
    }
    // The joined sessions are unharmed.
    for client in &mut joined {
        assert!(!client.ends_within(Duration::from_millis(50)));
    }
    assert_eq!(router.sessions(), 3);
    let refused_total: u64 = router
        .stats()
        .cores()
        .iter()
        .map(|c| c.connections_refused)
        .sum();
    assert_eq!(refused_total, 4);

    // A place freed is taken again, once the router has seen the close.
    drop(joined.pop());
    let deadline = std::time::Instant::now() + CLOSED_WITHIN;
    while router.sessions() > 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut again = Client::connect(&router, T);
    join(&mut again, "realm1");
    assert_eq!(router.sessions(), 3);
}

/// Whether a new connection to `port` is closed before the RawSocket
/// handshake is answered.
fn refused(port: u16) -> bool {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(CLOSED_WITHIN)).unwrap();
    let hello = HandshakeRequest {
        serializer: Serializer::Json,
        max_message_length: MaxMessageLength::MAX,
    };
    // The router may have closed it already: a failed write says so too.
    if stream.write_all(&hello.to_bytes()).is_err() {
        return true;
    }
    let mut reply = [0u8; 4];
    match stream.read(&mut reply) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    }
}

#[test]
fn the_cap_holds_across_cores_epoll() {
    capped(2, IoBackend::Epoll);
}

#[test]
fn the_cap_holds_across_cores_uring() {
    capped(2, IoBackend::Auto);
}

fn node_capped(io: IoBackend) {
    let router = TestRouter::start_edited(2, io, |config| config.limits.max_connections = 3);
    // Two transports, each far under its own cap: the node's is reached.
    let mut joined = Vec::new();
    for transport in [Transport::WebSocket(Serializer::Json), T, T] {
        let mut client = Client::connect(&router, transport);
        join(&mut client, "realm1");
        joined.push(client);
    }
    assert!(refused(router.rs_port), "a 4th connection is closed");
    for client in &mut joined {
        assert!(!client.ends_within(Duration::from_millis(50)));
    }
    assert_eq!(router.sessions(), 3);
}

#[test]
fn the_node_cap_holds_over_all_transports_epoll() {
    node_capped(IoBackend::Epoll);
}

#[test]
fn the_node_cap_holds_over_all_transports_uring() {
    node_capped(IoBackend::Uring);
}
