//! A bridge worker at run time: a thread of its own with its own tokio
//! runtime (never a router core: HTTP latency must not stall routing),
//! one task per component.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::watch;

use crate::config::BridgeWorker;
use crate::figures::Figures;

/// How often the worker asks its owner whether to stop.
const STOP_POLL: Duration = Duration::from_millis(100);

/// A started bridge worker.
#[derive(Debug)]
pub struct RunningBridge {
    id: String,
    components: usize,
    figures: Arc<Figures>,
    stop: watch::Sender<bool>,
    thread: JoinHandle<()>,
}

impl RunningBridge {
    /// Starts `worker` on a thread of its own. It stops at
    /// [`RunningBridge::stop`], or once `stop_when` says so (the node
    /// shutting down: the components then leave before the router goes).
    pub fn start(
        worker: BridgeWorker,
        stop_when: impl Fn() -> bool + Send + 'static,
    ) -> std::io::Result<Self> {
        let figures = Arc::new(Figures::default());
        let (stop, stopped) = watch::channel(false);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let id = worker.id.clone();
        let components = worker.components.len();
        let task_figures = figures.clone();
        let stopper = stop.clone();
        let thread = std::thread::Builder::new()
            // Not the id: a thread name is short and may hold no NUL.
            .name("bridge-worker".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let mut tasks = tokio::task::JoinSet::new();
                    for component in worker.components {
                        tasks.spawn(crate::component::run(
                            worker.id.clone(),
                            component,
                            task_figures.clone(),
                            stopped.clone(),
                        ));
                    }
                    tokio::spawn(async move {
                        while !stop_when() {
                            tokio::time::sleep(STOP_POLL).await;
                        }
                        let _ = stopper.send(true);
                    });
                    while tasks.join_next().await.is_some() {}
                });
            })?;
        Ok(RunningBridge {
            id,
            components,
            figures,
            stop,
            thread,
        })
    }

    /// The worker's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// How many components it runs.
    pub fn components(&self) -> usize {
        self.components
    }

    /// Its live counters.
    pub fn figures(&self) -> Arc<Figures> {
        self.figures.clone()
    }

    /// Stops every component (each leaves its realm) and waits for the
    /// thread to end.
    pub fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.thread.join();
    }
}
