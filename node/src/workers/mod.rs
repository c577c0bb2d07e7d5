//! Workers at run time: bridge workers ([`bridges`]), and guest workers: the node starts each configured guest
//! (`config::guest`) after the router is up, logs its output with its
//! name, restarts it as its policy says, and stops every guest when the
//! node stops (SIGTERM, then SIGKILL after a grace period).
//!
//! One thread supervises each guest; the node's shutdown request, or
//! [`Supervisor::stop`], ends them.

mod bridges;
mod guest;
mod output;
mod spawn;

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ringbar_engine::ShutdownHandle;
use serde_json::{Value, json};

use crate::config::guest::GuestWorker;

pub(crate) use bridges::{BridgeFigures, Bridges, BridgesView};

/// The running guest workers of a node.
pub(crate) struct Supervisor {
    stop: Stop,
    threads: Vec<JoinHandle<()>>,
    view: GuestsView,
}

/// What `ringbar status` shows of the guests: shared with the control
/// socket, updated by the supervising threads.
#[derive(Clone, Default)]
pub(crate) struct GuestsView(Arc<Vec<Arc<Mutex<GuestStatus>>>>);

/// The state of one guest worker.
#[derive(Debug, Clone)]
pub(crate) struct GuestStatus {
    /// The worker's id.
    pub(crate) id: String,
    /// Its process while it runs.
    pub(crate) pid: Option<u32>,
    /// What it is doing.
    pub(crate) state: GuestState,
    /// How often it was started again.
    pub(crate) restarts: u64,
}

/// What a guest worker is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GuestState {
    /// Not started yet.
    Starting,
    /// Its process runs.
    Running,
    /// It ended and waits for its restart.
    Restarting,
    /// It ended and is not restarted (`success`: with exit code 0).
    Exited {
        /// Whether it exited with code 0.
        success: bool,
    },
    /// The node stopped it.
    Stopped,
}

/// The request to stop, shared by the supervising threads: set by
/// [`Supervisor::stop`] or by the router's shutdown request.
#[derive(Clone)]
struct Stop {
    requested: Arc<(Mutex<bool>, Condvar)>,
    shutdown: ShutdownHandle,
}

/// How often a waiting thread looks at the router's shutdown request.
const SHUTDOWN_POLL: Duration = Duration::from_millis(100);

impl Supervisor {
    /// Starts a supervising thread for each of `guests`; they stop when
    /// `shutdown` is requested or at [`Supervisor::stop`].
    pub(crate) fn start(guests: Vec<GuestWorker>, shutdown: ShutdownHandle) -> Self {
        let stop = Stop {
            requested: Arc::new((Mutex::new(false), Condvar::new())),
            shutdown,
        };
        let statuses: Vec<Arc<Mutex<GuestStatus>>> = guests
            .iter()
            .map(|worker| {
                Arc::new(Mutex::new(GuestStatus {
                    id: worker.id.clone(),
                    pid: None,
                    state: GuestState::Starting,
                    restarts: 0,
                }))
            })
            .collect();
        let mut threads = Vec::with_capacity(guests.len());
        for (worker, status) in guests.into_iter().zip(&statuses) {
            let id = worker.id.clone();
            match guest::spawn_supervisor(worker, status.clone(), stop.clone()) {
                Ok(thread) => threads.push(thread),
                Err(error) => {
                    tracing::error!(
                        "cannot start a thread for guest worker {id} ({error}); it does not run."
                    );
                }
            }
        }
        Supervisor {
            stop,
            threads,
            view: GuestsView(Arc::new(statuses)),
        }
    }

    /// What `ringbar status` shows of the guests.
    pub(crate) fn view(&self) -> GuestsView {
        self.view.clone()
    }

    /// Stops every guest and waits until each has ended and is reaped.
    pub(crate) fn stop(self) {
        self.stop.request();
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

impl GuestsView {
    /// The guests as a JSON list for the status document.
    pub(crate) fn to_json(&self) -> Value {
        let guests: Vec<Value> = self
            .0
            .iter()
            .map(|status| {
                let status = status.lock().unwrap_or_else(|e| e.into_inner()).clone();
                json!({
                    "id": status.id,
                    "pid": status.pid,
                    "state": status.state.name(),
                    "restarts": status.restarts,
                })
            })
            .collect();
        Value::Array(guests)
    }
}

impl GuestState {
    /// The state's name in `ringbar status`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            GuestState::Starting => "starting",
            GuestState::Running => "running",
            GuestState::Restarting => "restarting",
            GuestState::Exited { success: true } => "exited",
            GuestState::Exited { success: false } => "failed",
            GuestState::Stopped => "stopped",
        }
    }
}

impl Stop {
    /// Asks every supervising thread to stop its guest.
    fn request(&self) {
        let (flag, wake) = &*self.requested;
        *flag.lock().unwrap_or_else(|e| e.into_inner()) = true;
        wake.notify_all();
    }

    /// Whether stopping was asked for.
    fn is_requested(&self) -> bool {
        let (flag, _) = &*self.requested;
        *flag.lock().unwrap_or_else(|e| e.into_inner()) || self.shutdown.is_requested()
    }

    /// Waits up to `timeout`, less when stopping is asked for; whether it is.
    fn wait(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (flag, wake) = &*self.requested;
        let mut requested = flag.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if *requested || self.shutdown.is_requested() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let slice = (deadline - now).min(SHUTDOWN_POLL);
            requested = wake
                .wait_timeout(requested, slice)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }
}
