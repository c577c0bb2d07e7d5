//! A guest's `restart` policy (a ringbar extension: Crossbar.io starts a
//! guest once): `"on-failure"`, or `{"policy": "on-failure", "delay_ms":
//! 1000, "max_delay_ms": 60000, "reset_after_ms": 30000}`.

use serde_json::Value;

use crate::config::diag::{Diagnostics, Path};
use crate::config::file::RestartFile;
use crate::config::read::{read, show};

/// The first delay before a restart.
pub(crate) const DEFAULT_DELAY_MS: u64 = 1_000;
/// The longest delay between restarts.
pub(crate) const DEFAULT_MAX_DELAY_MS: u64 = 60_000;
/// A run at least this long resets the delay: the guest was healthy.
pub(crate) const DEFAULT_RESET_AFTER_MS: u64 = 30_000;

/// When a guest is started again, and how long the node waits first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Restart {
    /// When.
    pub(crate) policy: RestartPolicy,
    /// The first delay; it doubles after each quick exit.
    pub(crate) delay_ms: u64,
    /// The delay's upper bound.
    pub(crate) max_delay_ms: u64,
    /// A run this long brings the delay back to `delay_ms`.
    pub(crate) reset_after_ms: u64,
}

/// When a guest that ended is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RestartPolicy {
    /// Never (the default, as in Crossbar.io).
    Never,
    /// When it exited with a non-zero code or was killed by a signal.
    OnFailure,
    /// Whenever it ends.
    Always,
}

impl RestartPolicy {
    /// Whether a guest that exited (`success`: with code 0) is restarted.
    pub(crate) fn restarts(self, success: bool) -> bool {
        match self {
            RestartPolicy::Never => false,
            RestartPolicy::OnFailure => !success,
            RestartPolicy::Always => true,
        }
    }
}

impl Default for Restart {
    fn default() -> Self {
        Restart {
            policy: RestartPolicy::Never,
            delay_ms: DEFAULT_DELAY_MS,
            max_delay_ms: DEFAULT_MAX_DELAY_MS,
            reset_after_ms: DEFAULT_RESET_AFTER_MS,
        }
    }
}

/// Reads `restart` (found at `path`): a policy name or an object.
pub(super) fn convert(
    value: Option<&Value>,
    path: &Path,
    diag: &mut Diagnostics,
) -> Option<Restart> {
    let restart = Restart::default();
    match value {
        None => Some(restart),
        Some(Value::String(name)) => {
            policy(name, path, diag).map(|policy| Restart { policy, ..restart })
        }
        Some(object @ Value::Object(_)) => {
            let file: RestartFile = read(object, path, diag)?;
            let errors_before = diag.error_count();
            let policy = policy(&file.policy, &path.key("policy"), diag);
            let mut millis = |value: Option<i64>, key: &str, default: u64, least: u64| {
                let Some(ms) = value else { return default };
                match u64::try_from(ms) {
                    Ok(ms) if ms >= least => ms,
                    _ => {
                        diag.error(
                            &path.key(key),
                            format!("{ms} is not a duration ({least} ms or more)"),
                        );
                        default
                    }
                }
            };
            let delay_ms = millis(file.delay_ms, "delay_ms", DEFAULT_DELAY_MS, 1);
            let max_delay_ms = millis(file.max_delay_ms, "max_delay_ms", DEFAULT_MAX_DELAY_MS, 1);
            let reset_after_ms = millis(
                file.reset_after_ms,
                "reset_after_ms",
                DEFAULT_RESET_AFTER_MS,
                0,
            );
            if diag.error_count() == errors_before && max_delay_ms < delay_ms {
                diag.error(
                    &path.key("max_delay_ms"),
                    format!("{max_delay_ms} is less than delay_ms ({delay_ms}): make it at least as long"),
                );
            }
            (diag.error_count() == errors_before).then_some(Restart {
                policy: policy?,
                delay_ms,
                max_delay_ms,
                reset_after_ms,
            })
        }
        Some(other) => {
            diag.error(
                path,
                format!(
                    "{} is not a restart policy (\"never\", \"on-failure\", \"always\", or an object with \"policy\")",
                    show(other)
                ),
            );
            None
        }
    }
}

fn policy(name: &str, path: &Path, diag: &mut Diagnostics) -> Option<RestartPolicy> {
    match name {
        "never" => Some(RestartPolicy::Never),
        "on-failure" => Some(RestartPolicy::OnFailure),
        "always" => Some(RestartPolicy::Always),
        other => {
            diag.error(
                path,
                format!("\"{other}\" is not one of never, on-failure, always"),
            );
            None
        }
    }
}
