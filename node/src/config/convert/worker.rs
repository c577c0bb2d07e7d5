//! What the router and `websocket-testee` workers share: their `options`
//! (Crossbar.io's native worker options), of which ringbar honours
//! `disabled`.

use serde_json::Value;

use super::Converter;
use super::endpoint::env_var_name;
use crate::config::diag::Path;
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

impl Converter<'_> {
    /// Whether the worker at `path` is disabled by its `options.disabled`
    /// (then it is checked but not started, with a warning that says so).
    pub(super) fn disabled(&mut self, worker: &Value, path: &Path) -> bool {
        let Some(options) = worker.get("options") else {
            return false;
        };
        let path = path.key("options");
        let accept = Accept {
            silent: PYTHON_OPTIONS,
            ignored: PROCESS_OPTIONS,
            ignored_message: "a Crossbar.io worker process option, not used by ringbar; ignored",
        };
        let Some(file) = read_with::<WorkerOptionsFile>(options, &path, self.diag, accept) else {
            return false;
        };
        let path = path.key("disabled");
        let disabled = match &file.disabled {
            None => false,
            Some(Value::Bool(disabled)) => *disabled,
            // Crossbar.io's rule: any value of the variable disables.
            Some(Value::String(text)) if let Some(name) = env_var_name(text) => {
                (self.env)(name).is_some_and(|value| !value.is_empty())
            }
            Some(other) => {
                self.diag.error(
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
            self.diag
                .warn(&path, "the worker is disabled: checked, not started");
        }
        disabled
    }
}
