//! A small WAMP client on tokio, built on `ringbar-protocol`'s sans-IO
//! pieces: how ringbar nodes talk to their management service, how
//! `ringbar pair` reaches it, and how tests drive a router.
//!
//! ```text
//!  Url ──► Connection::open (TCP, TLS for wss://, WebSocket upgrade,
//!          JSON framing; or RawSocket on TCP or a Unix socket)
//!            └─► Session::join (HELLO, CHALLENGE/AUTHENTICATE, WELCOME)
//!                  call / register / subscribe / publish / leave
//!                  next ──► Incoming::Invocation (answer with yield_*)
//!                          Incoming::Event
//! ```
//!
//! A [`Session`] is driven by its owner: every method sends and then reads
//! until its answer arrives; invocations and events that arrive meanwhile
//! wait (bounded) for [`Session::next`]. Nothing runs in the background, so
//! one current-thread runtime is enough.

mod auth;
mod backoff;
mod connection;
mod error;
mod publication;
mod rawsocket;
mod router_key;
mod session;
mod tls;
mod url;
mod wampcra;
mod websocket;

pub use auth::Credentials;
pub use backoff::Backoff;
pub use connection::Connection;
pub use error::Error;
pub use publication::Publication;
pub use router_key::RouterKey;
pub use session::{
    CallResult, Event, Incoming, Interrupt, Invocation, JoinOptions, MAX_WAITING, Session,
};
pub use tls::TlsRoots;
pub use url::{Url, UrlTransport};

pub use ringbar_protocol::value::{Dict, Value};
