//! Bridge workers at run time: the node starts each configured bridge
//! worker (`config::bridge`) once the router is up, each on a thread and
//! runtime of its own (`ringbar-bridges`), shows their figures in
//! `ringbar status` and `/metrics`, and stops them when the node stops.

use std::sync::Arc;

use ringbar_bridges::config::BridgeWorker;
use ringbar_bridges::{Figures, FiguresSnapshot, RunningBridge};
use ringbar_engine::ShutdownHandle;
use serde_json::{Value, json};

/// The running bridge workers of a node.
pub(crate) struct Bridges {
    running: Vec<RunningBridge>,
    view: BridgesView,
}

/// What `ringbar status` and `/metrics` show of the bridge workers.
#[derive(Clone, Default)]
pub(crate) struct BridgesView(Arc<Vec<BridgeView>>);

/// One bridge worker's live figures.
struct BridgeView {
    id: String,
    components: usize,
    figures: Arc<Figures>,
}

/// One bridge worker's figures at one moment, for the metrics.
pub(crate) struct BridgeFigures {
    /// The worker's id.
    pub(crate) id: String,
    /// How many components it runs.
    pub(crate) components: usize,
    /// Its counters.
    pub(crate) figures: FiguresSnapshot,
}

impl Bridges {
    /// Starts every worker of `workers`; one that cannot start is logged
    /// and left out. They stop when `shutdown` is requested, or at
    /// [`Bridges::stop`].
    pub(crate) fn start(workers: Vec<BridgeWorker>, shutdown: ShutdownHandle) -> Self {
        let mut running = Vec::with_capacity(workers.len());
        for worker in workers {
            let id = worker.id.clone();
            let shutdown = shutdown.clone();
            match RunningBridge::start(worker, move || shutdown.is_requested()) {
                Ok(bridge) => {
                    tracing::info!(
                        "Bridge worker {id} started ({} component{}).",
                        bridge.components(),
                        if bridge.components() == 1 { "" } else { "s" }
                    );
                    running.push(bridge);
                }
                Err(error) => {
                    tracing::error!("cannot start bridge worker {id} ({error}); it does not run.");
                }
            }
        }
        let view = running
            .iter()
            .map(|bridge| BridgeView {
                id: bridge.id().to_owned(),
                components: bridge.components(),
                figures: bridge.figures(),
            })
            .collect();
        Bridges {
            running,
            view: BridgesView(Arc::new(view)),
        }
    }

    /// What `ringbar status` and `/metrics` show of them.
    pub(crate) fn view(&self) -> BridgesView {
        self.view.clone()
    }

    /// Stops every bridge worker (their sessions leave) and waits for them.
    pub(crate) fn stop(self) {
        for bridge in self.running {
            let id = bridge.id().to_owned();
            bridge.stop();
            tracing::info!("Bridge worker {id} stopped.");
        }
    }
}

impl BridgesView {
    /// Every worker's figures now.
    pub(crate) fn figures(&self) -> Vec<BridgeFigures> {
        self.0
            .iter()
            .map(|bridge| BridgeFigures {
                id: bridge.id.clone(),
                components: bridge.components,
                figures: bridge.figures.snapshot(),
            })
            .collect()
    }

    /// The workers as a JSON list for the status document.
    pub(crate) fn to_json(&self) -> Value {
        let bridges: Vec<Value> = self
            .figures()
            .into_iter()
            .map(|bridge| {
                let f = bridge.figures;
                json!({
                    "id": bridge.id,
                    "components": bridge.components,
                    "joined": f.joined,
                    "joins": f.joins,
                    "calls": f.calls,
                    "call_errors": f.call_errors,
                    "events": f.events,
                    "forwarded": f.forwarded,
                    "retries": f.retries,
                    "queued": f.queued,
                    "published": f.published,
                    "dropped_queue_full": f.dropped_full,
                    "dropped_failed": f.dropped_failed,
                    "srdp_links": f.srdp_links,
                    "srdp_bad_frames": f.srdp_bad_frames,
                    "srdp_changes": f.srdp_changes,
                    "srdp_changes_dropped": f.srdp_changes_dropped,
                })
            })
            .collect();
        Value::Array(bridges)
    }
}
