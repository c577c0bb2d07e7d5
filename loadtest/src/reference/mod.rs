//! `reference-server`: the least a WAMP fan-out server can do, as the
//! physical limit every ringbar figure is compared to. Started with
//! `--spawn` like any router under test, so `loadtest compare` measures it
//! beside ringbar, pinned to the same CPU.
//!
//! Just enough WAMP for loadtest's own scenarios: WebSocket (no
//! extensions) or RawSocket, every serializer of `ringbar-protocol`; HELLO
//! to WELCOME with no authentication; exact-match SUBSCRIBE and
//! UNSUBSCRIBE; PUBLISH (acknowledged or not) to one EVENT frame per
//! publication and kind of link, copied to every subscriber; REGISTER with
//! one callee per procedure; CALL to INVOCATION, YIELD or ERROR back to
//! the caller; GOODBYE. No limits, authorization, meta API or pattern
//! matching: whatever ringbar spends on those shows as its distance from
//! this server.
//!
//! Parsing and framing are `ringbar-protocol`'s, the same sans-IO code
//! ringbar runs, so the comparison is of everything around them.
//!
//! Why one thread on mio (edge-triggered epoll) and not the tokio runtime
//! the load generator uses: a readiness event here costs only its system
//! calls — no task to wake and poll per connection, no waker, no budget —
//! and all output of a tick is written at its end, one `write` per
//! connection. That is the cheapest honest loop; raw epoll would make the
//! same system calls through `unsafe` FFI for no gain.

mod frames;
mod link;
mod realm;
mod router;
mod server;

use std::io;

use clap::Args;
use ringbar_protocol::codec::Serializer;

use crate::target::Target;

use server::{Listen, Server};

/// `reference-server`'s options.
#[derive(Debug, Clone, Args)]
pub(crate) struct ReferenceArgs {
    /// Where to listen and what to speak: ws://host:port/path (WebSocket
    /// at that path) or rs://host:port (RawSocket), the URL the scenarios
    /// are given.
    #[arg(long, default_value = "ws://127.0.0.1:8080/ws")]
    pub(crate) url: String,
}

/// Serves until the process is stopped (SIGTERM, as `--spawn` does).
pub(crate) fn run(args: &ReferenceArgs) -> io::Result<()> {
    let listen = listen_of(&args.url).map_err(io::Error::other)?;
    let server = Server::bind(listen)?;
    eprintln!(
        "reference-server: listening on {} ({})",
        server.local_addr()?,
        args.url
    );
    server.serve()
}

/// The listener a URL names; TLS is not served.
pub(crate) fn listen_of(url: &str) -> Result<Listen, String> {
    if url.starts_with("wss://") || url.starts_with("rss://") {
        return Err(format!(
            "--url {url}: the reference server speaks plain ws:// and rs:// only"
        ));
    }
    let target = Target::parse(url, "", Serializer::Json, None)?;
    Ok(Listen {
        authority: target.authority(),
        transport: target.transport,
        path: target.path,
    })
}
