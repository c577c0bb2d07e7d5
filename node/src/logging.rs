//! Logging to stderr with `tracing`: `--loglevel`, or the `RINGBAR_LOG`
//! filter when set.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::cli::LogLevel;

/// The environment variable whose `tracing` filter overrides `--loglevel`
/// (e.g. `RINGBAR_LOG=ringbar_engine=debug,info`).
pub(crate) const LOG_ENV: &str = "RINGBAR_LOG";

/// The filter `--loglevel` stands for. Below `debug` the NATS client's own
/// lines are left out (it repeats them at every reconnect attempt): the
/// cluster link says once when NATS comes, goes, or refuses the node.
fn level_filter(level: LogLevel) -> EnvFilter {
    match level {
        LogLevel::Debug | LogLevel::Trace | LogLevel::None => EnvFilter::new(level.directive()),
        other => EnvFilter::new(format!("{},async_nats=off", other.directive())),
    }
}

/// Installs the process's log subscriber.
pub(crate) fn init(level: LogLevel) {
    let filter = match std::env::var(LOG_ENV) {
        Ok(spec) if !spec.trim().is_empty() => match EnvFilter::try_new(&spec) {
            Ok(filter) => filter,
            Err(error) => {
                eprintln!(
                    "ringbar: {LOG_ENV}={spec:?} is not a log filter ({error}); using --loglevel {}",
                    level.directive()
                );
                level_filter(level)
            }
        },
        _ => level_filter(level),
    };
    // A second subscriber (none is ever installed before this) would only
    // be refused, so the result is not worth a failure.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        // A log line that cannot be written (stderr's reader went away)
        // must not take the writing thread down: tracing-subscriber would
        // report it with `eprintln!`, which panics on that same stderr, and
        // the signal thread with it, so SIGTERM could no longer stop the node.
        .log_internal_errors(false)
        .try_init();
}
