//! `ringbar-engine`: the WAMP router built on `ringbar-protocol`.
//!
//! [`Router::start`] runs a [`config::RouterConfig`]: one pinned core thread
//! per configured core, each with its own I/O runtime and its own listener
//! per transport; [`ShutdownHandle::shutdown`] stops it gracefully and
//! [`Router::join`] waits for that. See `DESIGN.md` for the map.

mod cluster;
pub mod config;
mod drivers;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod ip_network;
mod nonces;
mod runtime;
#[cfg(any(test, feature = "fuzzing"))]
mod sim;
mod slow_work;
mod transport;

// The router's live figures, from the sans-IO router crate where they are
// counted.
pub use ringbar_router::local::figures;

use std::sync::Arc;

pub use runtime::tls::TlsError;

/// Reads and checks the key and certificate files of a `tls` section as
/// [`Router::start`] will, so that `ringbar check` names a bad file before
/// any start.
pub fn check_tls(tls: &config::TlsConfig) -> Result<(), TlsError> {
    runtime::tls::server_config(tls).map(drop)
}

/// The WAMP protocol version this router speaks, as announced to peers.
pub const WAMP_VERSION: &str = "wamp.2";

/// Why the router could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A transport's endpoint could not be bound.
    #[error("transport {transport}: cannot listen on {endpoint}: {source}")]
    Bind {
        /// The transport's id.
        transport: String,
        /// The endpoint, as text.
        endpoint: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A transport's `tls` section cannot be used (a key or certificate
    /// file is missing, unreadable or wrong).
    #[error("transport {transport}: TLS: {source}")]
    Tls {
        /// The transport's id.
        transport: String,
        /// What is wrong, naming the file.
        source: TlsError,
    },
    /// io_uring was asked for but the kernel refuses it.
    #[error("io_uring is not available: {0} (use --io epoll or --io auto)")]
    UringUnavailable(std::io::Error),
    /// The cluster link's thread could not be started.
    #[error("cannot start the cluster link's thread: {0}")]
    ClusterThread(std::io::Error),
    /// A core thread could not be started.
    #[error("cannot start core thread {core}: {source}")]
    Thread {
        /// The core's index.
        core: usize,
        /// The operating system's reason.
        source: std::io::Error,
    },
}

/// A running router.
pub struct Router {
    shutdown: ShutdownHandle,
    threads: Vec<std::thread::JoinHandle<()>>,
    stats: Stats,
}

/// Live figures of a running router, readable from any thread (for
/// `ringbar status`, logs and tests).
#[derive(Clone)]
pub struct Stats {
    shared: Arc<ringbar_router::core::Shared>,
}

impl Stats {
    /// Joined sessions on each core.
    pub fn sessions_per_core(&self) -> Vec<usize> {
        self.shared
            .figures
            .iter()
            .map(|f| usize::try_from(f.sessions.get()).unwrap_or(usize::MAX))
            .collect()
    }

    /// WAMP messages received from clients, per core, since the start.
    pub fn messages_in_per_core(&self) -> Vec<u64> {
        self.shared
            .figures
            .iter()
            .map(|f| f.messages_in_total())
            .collect()
    }

    /// Events queued for subscribers, per core, since the start.
    pub fn events_out_per_core(&self) -> Vec<u64> {
        self.shared.figures.iter().map(|f| f.events_out()).collect()
    }

    /// Every figure of each core, in core order (for the metrics endpoint).
    pub fn cores(&self) -> Vec<figures::CoreSnapshot> {
        self.shared.figures.iter().map(|f| f.snapshot()).collect()
    }

    /// The most bytes one core's connections may hold queued together
    /// (`flow.max_core_queued_bytes`).
    pub fn max_core_queued_bytes(&self) -> usize {
        self.shared.flow.max_core_queued_bytes
    }

    /// The I/O backend the cores run on: `io_uring` or `epoll`.
    pub fn io_backend(&self) -> &'static str {
        self.shared.io
    }

    /// The cluster link's figures, when the node shares realms with a
    /// cluster.
    pub fn cluster(&self) -> Option<ringbar_router::core::cluster::ClusterSnapshot> {
        self.shared.cluster.as_ref().map(|c| c.figures.snapshot())
    }
}

/// Stops a running router; cheap to clone and usable from any thread (a
/// signal handler thread, a test).
#[derive(Clone)]
pub struct ShutdownHandle {
    sender: Arc<tokio::sync::watch::Sender<bool>>,
}

impl ShutdownHandle {
    /// Asks the router to stop: stop accepting, say GOODBYE to every
    /// session, flush, and let [`Router::join`] return.
    pub fn shutdown(&self) {
        self.sender.send_replace(true);
    }

    /// Whether shutdown was asked for.
    pub fn is_requested(&self) -> bool {
        *self.sender.borrow()
    }
}

impl Router {
    /// Starts the router described by `config`: binds every transport on
    /// every core (an endpoint in use is an error here), then runs.
    pub fn start(config: config::RouterConfig) -> Result<Router, StartError> {
        let (sender, receiver) = tokio::sync::watch::channel(false);
        let (threads, shared) = runtime::start(config, receiver)?;
        Ok(Router {
            shutdown: ShutdownHandle {
                sender: Arc::new(sender),
            },
            threads,
            stats: Stats { shared },
        })
    }

    /// The router's live figures.
    pub fn stats(&self) -> Stats {
        self.stats.clone()
    }

    /// A handle that stops this router.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Waits until the router has stopped (after a shutdown request, once
    /// every core has said GOODBYE and flushed, or its timeout passed).
    pub fn join(self) {
        for thread in self.threads {
            let _ = thread.join();
        }
        tracing::info!("router stopped");
    }
}
