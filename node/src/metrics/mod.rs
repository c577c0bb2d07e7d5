//! The metrics endpoint (`ringbar.metrics`): the router's per-core figures
//! in the Prometheus text format over HTTP, from threads of the node's own,
//! never a core's.
//!
//! One request per connection, GET only, the head bounded in size and time;
//! a few scrapes are served at once and more are refused, so a stuck client
//! cannot pile up threads.

mod http;
mod render;

use std::io;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ringbar_engine::Stats;

use crate::config::metrics::Metrics;
use crate::workers::BridgesView;
use http::{ReadError, Response};

/// How long a client may take to send its request, and to take the reply.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long to wait after a failed accept before the next.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// Scrapes served at once; a connection beyond them is closed at once.
const MAX_CLIENTS: usize = 4;

/// The bound metrics listener, before it serves.
pub(crate) struct MetricsListener {
    listener: TcpListener,
    path: String,
}

/// Binds the metrics endpoint of `config`. Done before the router starts,
/// so that a busy port stops the start with its reason.
pub(crate) fn bind(config: &Metrics) -> io::Result<MetricsListener> {
    Ok(MetricsListener {
        listener: TcpListener::bind(config.address)?,
        path: config.path.clone(),
    })
}

impl MetricsListener {
    /// The HTTP path it serves.
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// The address it listens on.
    pub(crate) fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Answers scrapes with the figures of `stats` from a thread of its own
    /// until the process ends; `cluster_node` is the node's name in its
    /// cluster (`ringbar.cluster.node`), if it is in one. A node whose
    /// thread cannot start still runs (it logs why).
    pub(crate) fn serve(self, stats: Stats, bridges: BridgesView, cluster_node: Option<String>) {
        let cluster_node: Option<Arc<str>> = cluster_node.map(Into::into);
        let spawned = std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || self.accept_loop(&stats, &bridges, cluster_node));
        if let Err(error) = spawned {
            tracing::warn!("cannot start the metrics thread ({error}); no metrics are served.");
        }
    }

    fn accept_loop(self, stats: &Stats, bridges: &BridgesView, cluster_node: Option<Arc<str>>) {
        let path: Arc<str> = self.path.into();
        let clients = Arc::new(AtomicUsize::new(0));
        for stream in self.listener.incoming() {
            let stream = match stream {
                Ok(stream) => stream,
                Err(error) => {
                    // Out of file descriptors, say: wait a little rather
                    // than spin on the error.
                    tracing::debug!("metrics: accept failed: {error}");
                    std::thread::sleep(ACCEPT_RETRY);
                    continue;
                }
            };
            if clients.load(Ordering::Relaxed) >= MAX_CLIENTS {
                tracing::debug!("metrics: {MAX_CLIENTS} scrapes under way; a connection refused");
                continue;
            }
            clients.fetch_add(1, Ordering::Relaxed);
            let client = ClientSlot(clients.clone());
            let (stats, path, bridges) = (stats.clone(), path.clone(), bridges.clone());
            let cluster_node = cluster_node.clone();
            let spawned = std::thread::Builder::new()
                .name("metrics-client".into())
                .spawn(move || {
                    let _client = client;
                    if let Err(error) =
                        answer(stream, &path, &stats, &bridges, cluster_node.as_deref())
                    {
                        tracing::debug!("metrics client: {error}");
                    }
                });
            if let Err(error) = spawned {
                tracing::debug!("metrics: cannot start a client thread: {error}");
            }
        }
    }
}

/// Holds one of the [`MAX_CLIENTS`] places while a scrape is served.
struct ClientSlot(Arc<AtomicUsize>);

impl Drop for ClientSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Reads one request from `stream` and answers it.
fn answer(
    mut stream: TcpStream,
    path: &str,
    stats: &Stats,
    bridges: &BridgesView,
    cluster_node: Option<&str>,
) -> io::Result<()> {
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let head = match http::read_head(&mut stream, CLIENT_TIMEOUT) {
        Ok(head) => head,
        Err(ReadError::TooLarge) => {
            return Response::error(431, "request head too large\n", &[]).write(&mut stream);
        }
        Err(ReadError::Io(error)) => return Err(error),
    };
    let Some(request) = http::request_line(&head) else {
        return Response::error(400, "not an HTTP/1.1 request\n", &[]).write(&mut stream);
    };
    if request.method != "GET" {
        return Response::error(405, "only GET is served here\n", &[("Allow", "GET")])
            .write(&mut stream);
    }
    if request.path != path {
        let text = format!("not found: the metrics are at {path}\n");
        return Response::error(404, &text, &[]).write(&mut stream);
    }
    let node = render::Node {
        version: env!("CARGO_PKG_VERSION"),
        io: stats.io_backend(),
        max_core_queued_bytes: stats.max_core_queued_bytes(),
        cluster: cluster_node
            .zip(stats.cluster())
            .map(|(node, figures)| render::Cluster { node, figures }),
    };
    let body = render::render(&node, &stats.cores(), &bridges.figures());
    Response {
        status: 200,
        headers: &[],
        content_type: render::CONTENT_TYPE,
        body: body.as_bytes(),
    }
    .write(&mut stream)
}
