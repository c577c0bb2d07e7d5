//! `ringbar-engine`: the WAMP router built on `ringbar-protocol`.
//!
//! [`Router::start`] runs a [`config::RouterConfig`]: one pinned core thread
//! per configured core, each with its own I/O runtime and its own listener
//! per transport; [`ShutdownHandle::shutdown`] stops it gracefully and
//! [`Router::join`] waits for that. See `DESIGN.md` for the map.

pub mod config;

use std::sync::Arc;

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
    /// io_uring was asked for but the kernel refuses it.
    #[error("io_uring is not available: {0} (use --io epoll or --io auto)")]
    UringUnavailable(std::io::Error),
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
}

/// Stops a running router; cheap to clone and usable from any thread (a
/// signal handler thread, a test).
#[derive(Clone)]
pub struct ShutdownHandle {
    inner: Arc<ShutdownState>,
}

struct ShutdownState {
    requested: std::sync::Mutex<bool>,
    changed: std::sync::Condvar,
}

impl ShutdownHandle {
    fn new() -> Self {
        Self {
            inner: Arc::new(ShutdownState {
                requested: std::sync::Mutex::new(false),
                changed: std::sync::Condvar::new(),
            }),
        }
    }

    /// Asks the router to stop: stop accepting, say GOODBYE to every
    /// session, flush, and let [`Router::join`] return.
    pub fn shutdown(&self) {
        if let Ok(mut requested) = self.inner.requested.lock() {
            *requested = true;
            self.inner.changed.notify_all();
        }
    }

    /// Whether shutdown was asked for.
    pub fn is_requested(&self) -> bool {
        self.inner.requested.lock().map(|r| *r).unwrap_or(true)
    }

    /// Blocks until shutdown is asked for.
    pub fn wait(&self) {
        let Ok(mut requested) = self.inner.requested.lock() else {
            return;
        };
        while !*requested {
            match self.inner.changed.wait(requested) {
                Ok(r) => requested = r,
                Err(_) => return,
            }
        }
    }
}

impl Router {
    /// Starts the router described by `config`.
    pub fn start(config: config::RouterConfig) -> Result<Router, StartError> {
        let _ = config;
        Ok(Router {
            shutdown: ShutdownHandle::new(),
            threads: Vec::new(),
        })
    }

    /// A handle that stops this router.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Waits until the router has stopped.
    pub fn join(self) {
        self.shutdown.wait();
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}
