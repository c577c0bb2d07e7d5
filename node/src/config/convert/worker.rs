//! What the router, `websocket-testee` and `container` workers share: their
//! `options` (Crossbar.io's native worker options), of which ringbar
//! honours `disabled`.

use serde_json::Value;

use super::endpoint::env_var_name;
use super::{Converter, Env};
use crate::config::diag::{Diagnostics, Path};
use crate::config::file::WorkerOptionsFile;
use crate::config::read::{Accept, read_with, show};

/// Options of Crossbar.io's Python worker processes that mean nothing for
/// ringbar's threads.
const PYTHON_OPTIONS: &[&str] = &[
    "title",
    "python",
    "pythonpath",
    "extra",
    "expose_controller",
    "expose_shared",
];

/// Options of Crossbar.io's worker processes that a user may count on and
/// ringbar does not apply (its cores are set by `ringbar.cores`).
const PROCESS_OPTIONS: &[&str] = &["cpu_affinity", "env"];

/// [`PROCESS_OPTIONS`] and a container's `shutdown` and `restart` (ringbar's
/// bridge components always join again; the worker stops with the node).
const CONTAINER_OPTIONS: &[&str] = &["cpu_affinity", "env", "shutdown", "restart"];

/// Whether the worker at `path` is disabled; for the workers read outside
/// the router's conversion (`container`: `container` is true).
pub(crate) fn disabled(
    worker: &Value,
    path: &Path,
    container: bool,
    env: Env<'_>,
    diag: &mut Diagnostics,
) -> bool {
    let ignored = if container {
        CONTAINER_OPTIONS
    } else {
        PROCESS_OPTIONS
    };
    worker_disabled(worker, path, ignored, env, diag)
}

impl Converter<'_> {
    /// Whether the worker at `path` is disabled by its `options.disabled`
    /// (then it is checked but not started, with a warning that says so).
    pub(super) fn disabled(&mut self, worker: &Value, path: &Path) -> bool {
        worker_disabled(worker, path, PROCESS_OPTIONS, self.env, self.diag)
    }
}

fn worker_disabled(
    worker: &Value,
    path: &Path,
    ignored: &[&str],
    env: Env<'_>,
    diag: &mut Diagnostics,
) -> bool {
    let Some(options) = worker.get("options") else {
        return false;
    };
    let path = path.key("options");
    let accept = Accept {
        silent: PYTHON_OPTIONS,
        ignored,
        ignored_message: "a Crossbar.io worker process option, not used by ringbar; ignored",
    };
    let Some(file) = read_with::<WorkerOptionsFile>(options, &path, diag, accept) else {
        return false;
    };
    let path = path.key("disabled");
    let disabled = match &file.disabled {
        None => false,
        Some(Value::Bool(disabled)) => *disabled,
        // Crossbar.io's rule: any value of the variable disables.
        Some(Value::String(text)) if let Some(name) = env_var_name(text) => {
            env(name).is_some_and(|value| !value.is_empty())
        }
        Some(other) => {
            diag.error(
                &path,
                format!(
                    "{} is not true, false or \"$VAR\" (an environment variable that disables the worker when set)",
                    show(other)
                ),
            );
            false
        }
    };
    if disabled {
        diag.warn(&path, "the worker is disabled: checked, not started");
    }
    disabled
}
