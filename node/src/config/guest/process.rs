//! A guest's process settings: its environment (`options.env`) and what is
//! done with its standard streams (`options.stdin`, `stdout`, `stderr`).

use serde_json::Value;

use crate::config::diag::{Diagnostics, Path};
use crate::config::file::{GuestStdinFile, ProcessEnvFile};
use crate::config::read::{read, show};

/// The environment a guest starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcessEnv {
    /// What it takes from the node's environment.
    pub(crate) inherit: Inherit,
    /// Variables set on top, in file order.
    pub(crate) vars: Vec<(String, String)>,
}

/// What a guest takes from the node's environment (`options.env.inherit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Inherit {
    /// Everything (`true`, the default).
    All,
    /// Nothing (`false`).
    Nothing,
    /// These variables, where set.
    Only(Vec<String>),
}

/// What a guest reads on stdin (`options.stdin`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StdinPolicy {
    /// A pipe kept open and never written, as Crossbar.io does when
    /// `stdin` is not set.
    Open,
    /// End of file at once (`"close"`).
    Close,
    /// This text (a JSON value) written, then closed when `close`.
    Write {
        /// The text written.
        text: String,
        /// Whether stdin is closed after it.
        close: bool,
    },
}

/// What becomes of a guest's stdout or stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutputPolicy {
    /// Each line is logged with the worker's name (the default).
    Log,
    /// Read and thrown away.
    Drop,
    /// The node closes its end, so the guest's writes fail.
    Close,
}

/// `options.env`: everything inherited when absent.
pub(super) fn env(
    file: Option<&ProcessEnvFile>,
    path: &Path,
    diag: &mut Diagnostics,
) -> Option<ProcessEnv> {
    let Some(file) = file else {
        return Some(ProcessEnv {
            inherit: Inherit::All,
            vars: Vec::new(),
        });
    };
    let inherit = match &file.inherit {
        None | Some(Value::Bool(true)) => Some(Inherit::All),
        Some(Value::Bool(false)) => Some(Inherit::Nothing),
        Some(list @ Value::Array(_)) => {
            read::<Vec<String>>(list, &path.key("inherit"), diag).map(Inherit::Only)
        }
        Some(other) => {
            diag.error(
                &path.key("inherit"),
                format!(
                    "{} is not true, false or a list of variable names",
                    show(other)
                ),
            );
            None
        }
    };
    let mut vars = Vec::with_capacity(file.vars.len());
    let mut ok = true;
    for (name, value) in &file.vars {
        match value {
            Value::String(text) => vars.push((name.clone(), text.clone())),
            other => {
                ok = false;
                diag.error(
                    &path.key("vars").key(name),
                    format!(
                        "{} is not a string: quote it (\"{}\")",
                        show(other),
                        other.to_string().trim_matches('"')
                    ),
                );
            }
        }
    }
    let inherit = inherit.filter(|_| ok)?;
    Some(ProcessEnv { inherit, vars })
}

/// `options.stdin`: an open pipe when absent.
pub(super) fn stdin(
    value: Option<&Value>,
    path: &Path,
    diag: &mut Diagnostics,
) -> Option<StdinPolicy> {
    match value {
        None => Some(StdinPolicy::Open),
        Some(Value::String(close)) if close == "close" => Some(StdinPolicy::Close),
        Some(object @ Value::Object(_)) => {
            let file: GuestStdinFile = read(object, path, diag)?;
            if file.kind != "json" {
                diag.error(
                    &path.key("type"),
                    format!("\"{}\" is not supported (json)", file.kind),
                );
                return None;
            }
            Some(StdinPolicy::Write {
                text: file.value.to_string(),
                close: file.close.unwrap_or(true),
            })
        }
        Some(other) => {
            diag.error(
                path,
                format!(
                    "{} is not \"close\" or {{\"type\": \"json\", \"value\": ...}}",
                    show(other)
                ),
            );
            None
        }
    }
}

/// `options.stdout` or `options.stderr`: logged when absent.
pub(super) fn output(
    value: Option<&str>,
    path: &Path,
    diag: &mut Diagnostics,
) -> Option<OutputPolicy> {
    match value {
        None | Some("log") => Some(OutputPolicy::Log),
        Some("drop") => Some(OutputPolicy::Drop),
        Some("close") => Some(OutputPolicy::Close),
        Some(other) => {
            diag.error(path, format!("\"{other}\" is not one of log, drop, close"));
            None
        }
    }
}
