//! ringbar's own settings: the top-level `"ringbar"` object of the config
//! file, overridden by command-line flags.

use ringbar_engine::config::{FlowControl, IoBackend, Limits, SlowConsumerPolicy};
use serde_json::Value;

use super::diag::{Diagnostics, Path};
use super::file::RingbarFile;
use super::read::{Accept, read_with};

/// How long a graceful shutdown may take before connections are cut, when
/// the file says nothing: long enough to say GOODBYE and flush.
pub(crate) const DEFAULT_SHUTDOWN_TIMEOUT_MS: u64 = 5_000;

/// Settings given on the command line, which win over the file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Overrides {
    /// `--cores`.
    pub(crate) cores: Option<usize>,
    /// `--io`.
    pub(crate) io: Option<IoBackend>,
}

/// The settings in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Settings {
    /// Core threads to run.
    pub(crate) cores: usize,
    /// The I/O backend.
    pub(crate) io: IoBackend,
    /// Per-session flow control.
    pub(crate) flow: FlowControl,
    /// What clients may make the router hold.
    pub(crate) limits: Limits,
    /// Graceful shutdown limit, ms.
    pub(crate) shutdown_timeout_ms: u64,
}

/// The number of cores this process may use (its CPU affinity and cgroup
/// quota), the default for `cores`.
pub(crate) fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Reads the `"ringbar"` object (absent: every default) and applies the
/// command line on top.
pub(crate) fn convert(
    value: Option<&Value>,
    overrides: Overrides,
    diag: &mut Diagnostics,
) -> Settings {
    let path = Path::root().key("ringbar");
    let file: RingbarFile = value
        // `management` is the uplink's, read by `super::uplink`; `metrics`
        // is read by `super::metrics`; `cluster` by `super::cluster`, once
        // the router's realms are known.
        .and_then(|value| {
            read_with(
                value,
                &path,
                diag,
                Accept::silent(&["management", "metrics", "cluster"]),
            )
        })
        .unwrap_or_default();
    let mut settings = Settings {
        cores: available_cores(),
        io: IoBackend::Auto,
        flow: FlowControl::default(),
        limits: Limits::default(),
        shutdown_timeout_ms: DEFAULT_SHUTDOWN_TIMEOUT_MS,
    };
    if let Some(cores) = file.cores {
        match usize::try_from(cores) {
            Ok(cores @ 1..) => settings.cores = cores,
            _ => diag.error(
                &path.key("cores"),
                format!("{cores} is not a core count (at least 1)"),
            ),
        }
    }
    if let Some(io) = file.io.as_deref() {
        match parse_io(io) {
            Some(io) => settings.io = io,
            None => diag.error(
                &path.key("io"),
                format!("\"{io}\" is not one of uring, epoll, auto"),
            ),
        }
    }
    if let Some(flow) = file.flow {
        let flow_path = path.key("flow");
        for (value, key, field) in [
            (
                flow.max_queued_bytes,
                "max_queued_bytes",
                &mut settings.flow.max_queued_bytes,
            ),
            (
                flow.max_core_queued_bytes,
                "max_core_queued_bytes",
                &mut settings.flow.max_core_queued_bytes,
            ),
        ] {
            let Some(bytes) = value else { continue };
            match usize::try_from(bytes) {
                Ok(bytes @ 1..) => *field = bytes,
                _ => diag.error(
                    &flow_path.key(key),
                    format!("{bytes} is not a byte count (at least 1)"),
                ),
            }
        }
        match flow.slow_consumer.as_deref() {
            None => {}
            Some("drop") => settings.flow.slow_consumer = SlowConsumerPolicy::Drop,
            Some("disconnect") => settings.flow.slow_consumer = SlowConsumerPolicy::Disconnect,
            Some(other) => diag.error(
                &flow_path.key("slow_consumer"),
                format!("\"{other}\" is not one of drop, disconnect"),
            ),
        }
    }
    if let Some(limits) = file.limits {
        let limits_path = path.key("limits");
        for (value, key, field) in [
            (
                limits.max_subscriptions_per_session,
                "max_subscriptions_per_session",
                &mut settings.limits.max_subscriptions_per_session,
            ),
            (
                limits.max_registrations_per_session,
                "max_registrations_per_session",
                &mut settings.limits.max_registrations_per_session,
            ),
            (
                limits.max_retained_bytes_per_realm,
                "max_retained_bytes_per_realm",
                &mut settings.limits.max_retained_bytes_per_realm,
            ),
            (
                limits.max_connections,
                "max_connections",
                &mut settings.limits.max_connections,
            ),
        ] {
            let Some(count) = value else { continue };
            match usize::try_from(count) {
                Ok(count @ 1..) => *field = count,
                _ => diag.error(
                    &limits_path.key(key),
                    format!("{count} is not a count (at least 1)"),
                ),
            }
        }
        if let Some(ms) = limits.idle_timeout_ms {
            match u64::try_from(ms) {
                Ok(ms @ (0 | 100..)) => settings.limits.idle_timeout_ms = ms,
                _ => diag.error(
                    &limits_path.key("idle_timeout_ms"),
                    format!("{ms} is not a timeout (0 for none, else at least 100 ms)"),
                ),
            }
        }
        if let Some(ms) = limits.join_timeout_ms {
            match u64::try_from(ms) {
                Ok(ms @ 100..) => settings.limits.join_timeout_ms = ms,
                _ => diag.error(
                    &limits_path.key("join_timeout_ms"),
                    format!("{ms} is not a timeout (at least 100 ms)"),
                ),
            }
        }
    }
    if let Some(ms) = file.shutdown_timeout_ms {
        match u64::try_from(ms) {
            Ok(ms) => settings.shutdown_timeout_ms = ms,
            Err(_) => diag.error(
                &path.key("shutdown_timeout_ms"),
                format!("{ms} is not a duration (0 or more ms)"),
            ),
        }
    }
    if let Some(cores) = overrides.cores {
        settings.cores = cores;
    }
    if let Some(io) = overrides.io {
        settings.io = io;
    }
    settings
}

/// `uring`, `epoll` or `auto`, as in the file and on the command line.
pub(crate) fn parse_io(name: &str) -> Option<IoBackend> {
    match name {
        "uring" => Some(IoBackend::Uring),
        "epoll" => Some(IoBackend::Epoll),
        "auto" => Some(IoBackend::Auto),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(value: Value, overrides: Overrides) -> (Settings, Vec<String>) {
        let mut diag = Diagnostics::new("config.json");
        let settings = convert(Some(&value), overrides, &mut diag);
        let errors = diag.errors().iter().map(ToString::to_string).collect();
        (settings, errors)
    }

    #[test]
    fn defaults() {
        let mut diag = Diagnostics::new("config.json");
        let settings = convert(None, Overrides::default(), &mut diag);
        assert_eq!(settings.cores, available_cores());
        assert_eq!(settings.io, IoBackend::Auto);
        assert_eq!(settings.flow, FlowControl::default());
        assert_eq!(settings.shutdown_timeout_ms, DEFAULT_SHUTDOWN_TIMEOUT_MS);
        assert!(!diag.has_errors());
    }

    #[test]
    fn file_values_are_read() {
        let (settings, errors) = run(
            json!({"cores": 3, "io": "epoll", "shutdown_timeout_ms": 250,
                   "flow": {"max_queued_bytes": 65536, "max_core_queued_bytes": 1048576,
                            "slow_consumer": "disconnect"},
                   "limits": {"max_subscriptions_per_session": 50,
                              "max_registrations_per_session": 7,
                              "max_retained_bytes_per_realm": 1048576,
                              "join_timeout_ms": 3000, "max_connections": 5000,
                              "idle_timeout_ms": 600000}}),
            Overrides::default(),
        );
        assert!(errors.is_empty());
        assert_eq!(settings.cores, 3);
        assert_eq!(settings.io, IoBackend::Epoll);
        assert_eq!(settings.shutdown_timeout_ms, 250);
        assert_eq!(
            settings.flow,
            FlowControl {
                max_queued_bytes: 65536,
                max_core_queued_bytes: 1 << 20,
                slow_consumer: SlowConsumerPolicy::Disconnect
            }
        );
        assert_eq!(
            settings.limits,
            Limits {
                max_subscriptions_per_session: 50,
                max_registrations_per_session: 7,
                max_retained_bytes_per_realm: 1 << 20,
                join_timeout_ms: 3000,
                max_connections: 5000,
                idle_timeout_ms: 600_000,
                ..Limits::default()
            }
        );
        let (_, errors) = run(
            json!({"limits": {"max_registrations_per_session": 0}}),
            Overrides::default(),
        );
        assert_eq!(
            errors,
            [
                "config.json: ringbar.limits.max_registrations_per_session: 0 is not a count (at least 1)"
            ]
        );
        let (_, errors) = run(
            json!({"limits": {"idle_timeout_ms": 50}}),
            Overrides::default(),
        );
        assert_eq!(
            errors,
            [
                "config.json: ringbar.limits.idle_timeout_ms: 50 is not a timeout (0 for none, else at least 100 ms)"
            ]
        );
    }

    #[test]
    fn the_command_line_wins() {
        let (settings, _) = run(
            json!({"cores": 3, "io": "epoll"}),
            Overrides {
                cores: Some(1),
                io: Some(IoBackend::Uring),
            },
        );
        assert_eq!(settings.cores, 1);
        assert_eq!(settings.io, IoBackend::Uring);
    }

    #[test]
    fn bad_values_are_named() {
        let (_, errors) = run(
            json!({"cores": 0, "io": "kqueue", "shutdown_timeout_ms": -1,
                   "flow": {"max_queued_bytes": 0, "slow_consumer": "block"}}),
            Overrides::default(),
        );
        assert_eq!(
            errors,
            [
                "config.json: ringbar.cores: 0 is not a core count (at least 1)",
                "config.json: ringbar.io: \"kqueue\" is not one of uring, epoll, auto",
                "config.json: ringbar.flow.max_queued_bytes: 0 is not a byte count (at least 1)",
                "config.json: ringbar.flow.slow_consumer: \"block\" is not one of drop, disconnect",
                "config.json: ringbar.shutdown_timeout_ms: -1 is not a duration (0 or more ms)",
            ]
        );
    }
}
