//! The `workers` list as the passes that read one kind of worker each
//! (`guest`, `bridge`) see it: every worker with its path and, when it has
//! no `id`, the name Crossbar.io gives it.

use serde_json::Value;

use super::diag::Path;

/// One entry of `workers`.
pub(crate) struct Numbered<'a> {
    /// `workers[N]`.
    pub(crate) path: Path,
    /// The worker's object.
    pub(crate) worker: &'a Value,
    /// `worker<NNN>` when it has no `id`: Crossbar.io numbers every worker
    /// without one, of any type, in file order.
    pub(crate) default_id: Option<String>,
}

/// The workers of the config `root`, in file order.
pub(crate) fn numbered(root: &Value) -> Vec<Numbered<'_>> {
    let Some(workers) = root.get("workers").and_then(Value::as_array) else {
        return Vec::new();
    };
    let mut unnamed = 0;
    workers
        .iter()
        .enumerate()
        .map(|(index, worker)| Numbered {
            path: Path::root().key("workers").index(index),
            worker,
            default_id: worker.get("id").is_none().then(|| {
                unnamed += 1;
                format!("worker{unnamed:03}")
            }),
        })
        .collect()
}
