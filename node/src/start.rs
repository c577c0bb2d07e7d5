//! `ringbar start DIR [--config FILE]`: initialise if needed, load the
//! key and the config, write the pid file, run the router and the guest
//! workers until SIGINT or SIGTERM.

use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use ringbar_bridges::config::BridgeWorker;
use ringbar_engine::config::{Endpoint, RouterConfig, TransportKind};
use ringbar_engine::{Router, ShutdownHandle};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::config::uplink::Uplink as UplinkConfig;
use crate::config::{self, LoadError, Overrides};
use crate::control;
use crate::init;
use crate::key::{self, InstanceKey};
use crate::managed::{self, ManagedError};
use crate::metrics;
use crate::pidfile::{self, PidFile};
use crate::reconfigure;
use crate::uplink;
use crate::workers::{Bridges, Supervisor};
use crate::{EXIT_CONFIG, EXIT_FAILURE};

/// Runs the node of `dir` from its config `file` (the directory's own when
/// `None`) to the end; the exit code says how it ended.
pub(crate) fn run(dir: &Path, file: Option<&Path>, overrides: Overrides) -> ExitCode {
    run_with(dir, file, overrides, |_| {})
}

/// [`run`], with `prepare` completing the router's config from the file
/// before the router starts (the management service puts its
/// authenticator in).
pub(crate) fn run_with(
    dir: &Path,
    file: Option<&Path>,
    overrides: Overrides,
    prepare: impl FnOnce(&mut RouterConfig),
) -> ExitCode {
    let fresh = !dir.exists();
    if fresh && let Err(error) = init::init(dir, None) {
        return fail(format!("cannot initialise {}: {error}", dir.display()));
    }
    // The config is checked before the key is made, so that a bad config
    // leaves the directory as it was.
    let mut loaded = match config::load(dir, file, overrides) {
        Ok(loaded) => loaded,
        Err(error) => return config_failure(&error, "; nothing was started"),
    };
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let key = if fresh {
        key::load_or_generate(dir).map(|(key, _)| key)
    } else {
        init::instance_key(dir)
    };
    let key = match key {
        Ok(key) => key,
        Err(error) => return fail(format!("instance key: {error}")),
    };
    tracing::info!("Config loaded from {}.", loaded.path.display());

    // Signals are caught from here on, so one that arrives while the router
    // starts is handled once it runs, not by the default action.
    let mut signals = match Signals::new([SIGINT, SIGTERM]) {
        Ok(signals) => signals,
        Err(error) => return fail(format!("cannot handle SIGINT/SIGTERM: {error}")),
    };
    let pid_file = match PidFile::create(dir) {
        Ok(pid_file) => pid_file,
        Err(error) => return fail(error.to_string()),
    };
    let metrics = match loaded.metrics.as_ref().map(metrics::bind).transpose() {
        Ok(metrics) => metrics,
        Err(error) => {
            pid_file.remove();
            let address = loaded.metrics.as_ref().map(|m| m.address.to_string());
            return fail(format!(
                "cannot start: metrics endpoint: cannot listen on {}: {error} (set ringbar.metrics.endpoint.port to a free port, or remove ringbar.metrics)",
                address.unwrap_or_default()
            ));
        }
    };
    let mut configs = None;
    if let Some(uplink) = &loaded.uplink {
        match managed_router(dir, uplink, &key, overrides, &mut signals) {
            Ok(Some((router, bridges, later))) => {
                (loaded.router, loaded.bridges) = (router, bridges);
                configs = Some(later);
            }
            Ok(None) => {
                pid_file.remove();
                tracing::info!("Node stopped.");
                return ExitCode::SUCCESS;
            }
            Err(code) => {
                pid_file.remove();
                return code;
            }
        }
    }
    prepare(&mut loaded.router);
    let router_config = loaded.router.clone();
    tracing::info!("Starting instance.");
    tracing::info!("Starting routing service.");
    log_transports(&router_config);
    let router = match Router::start(loaded.router) {
        Ok(router) => router,
        Err(error) => {
            pid_file.remove();
            return fail(format!("cannot start: {error}"));
        }
    };
    watch_signals(signals, router.shutdown_handle(), pid_file.path());
    let reconfigure = configs.map(|later| reconfigure::watch(later, router.shutdown_handle()));
    let guests = Supervisor::start(loaded.guests, router.shutdown_handle());
    restrict_worker_socket(dir, &loaded.bridges);
    let bridges = Bridges::start(loaded.bridges, router.shutdown_handle());
    let control = control::serve(
        dir,
        &router_config,
        router.stats(),
        router.shutdown_handle(),
        guests.view(),
        bridges.view(),
    );
    if let Some(metrics) = metrics {
        match metrics.local_addr() {
            Ok(address) => tracing::info!("Serving metrics on http://{address}{}.", metrics.path()),
            Err(error) => tracing::warn!("metrics endpoint: {error}"),
        }
        let cluster_node = router_config.cluster.as_ref().map(|c| c.node.clone());
        metrics.serve(router.stats(), bridges.view(), cluster_node);
    }
    tracing::info!("Instance started.");
    router.join();
    bridges.stop();
    guests.stop();
    drop(control);
    pid_file.remove();
    tracing::info!("Node stopped.");
    if let Some(failed) = reconfigure.and_then(|r| r.restart_if_asked()) {
        return failed;
    }
    ExitCode::SUCCESS
}

/// What a paired node runs: its router, its bridge workers, and the
/// configs the management service sends later.
type Managed = (RouterConfig, Vec<BridgeWorker>, Receiver<String>);

/// The router config and bridge workers a managed node runs: the one
/// cached from its management service, else the first one the service
/// sends (the node shows activation codes until an owner pairs it), and
/// where the uplink, which keeps running beside the router, passes on
/// later ones. `Ok(None)` when SIGINT or SIGTERM came while waiting.
fn managed_router(
    dir: &Path,
    uplink: &UplinkConfig,
    key: &InstanceKey,
    overrides: Overrides,
    signals: &mut Signals,
) -> Result<Option<Managed>, ExitCode> {
    let cached = uplink::cached(dir);
    let configs =
        uplink::spawn(dir, uplink, key.signing_key().clone(), cached.is_some()).map_err(fail)?;
    let text = match cached {
        Some(text) => text,
        None => loop {
            match configs.recv_timeout(WAIT_POLL) {
                Ok(text) => break text,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(fail(
                        "the uplink to the management service ended".to_owned(),
                    ));
                }
            }
            if let Some(signal) = signals.pending().next() {
                tracing::info!("{} received: stopping the node.", signal_name(signal));
                return Ok(None);
            }
        },
    };
    let managed = match managed::load(dir, &text, overrides) {
        Ok(managed) => managed,
        Err(ManagedError::Invalid(error)) => {
            return Err(config_failure(&error, "; nothing was started"));
        }
        Err(refused) => return Err(fail(format!("{refused}; nothing was started"))),
    };
    for warning in &managed.warnings {
        tracing::warn!("{warning}");
    }
    if managed
        .bridges
        .iter()
        .any(BridgeWorker::is_postgresql_bridge)
    {
        tracing::info!("Configured as PostgreSQL bridge.");
    }
    tracing::info!("Configured as router.");
    let srdp = |c: &ringbar_bridges::config::Component| {
        matches!(c.kind, ringbar_bridges::config::ComponentKind::Srdp(_))
    };
    if managed
        .bridges
        .iter()
        .any(|b| b.components.iter().any(srdp))
    {
        tracing::info!("Configured as SRDP bridge.");
    }
    Ok(Some((managed.router, managed.bridges, configs)))
}

/// Makes the worker socket, when the router opened one, the node user's
/// alone (its tickets admit only the node's workers anyway).
fn restrict_worker_socket(dir: &Path, bridges: &[BridgeWorker]) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(config::bridge::SOCKET_FILE);
    if !bridges.is_empty() && path.exists() {
        let mode = std::fs::Permissions::from_mode(0o600);
        if let Err(error) = std::fs::set_permissions(&path, mode) {
            tracing::warn!(
                "cannot restrict the worker socket {}: {error}",
                path.display()
            );
        }
    }
}

/// How often a node waiting for its configuration looks for signals.
const WAIT_POLL: Duration = Duration::from_millis(200);

fn signal_name(signal: i32) -> &'static str {
    if signal == SIGINT {
        "SIGINT"
    } else {
        "SIGTERM"
    }
}

/// One line per transport: `Starting WebSocket transport on port 8080.`
fn log_transports(config: &RouterConfig) {
    for transport in &config.transports {
        let kind = match &transport.kind {
            TransportKind::WebSocket(_) => "WebSocket",
            TransportKind::RawSocket(_) => "RawSocket",
            TransportKind::WebSocketTestee(_) => "WebSocket testee",
            TransportKind::Web(_) => "Web",
            TransportKind::Universal(_) => "Universal",
        };
        match &transport.endpoint {
            Endpoint::Tcp { port, tls, .. } => {
                let tls = if tls.is_some() { "/TLS" } else { "" };
                tracing::info!("Starting {kind} transport on port {port}{tls}.");
            }
            Endpoint::Unix { path } => {
                tracing::info!("Starting {kind} transport on {}.", path.display());
            }
        }
    }
}

/// Prints why the config cannot be used, the count of errors followed by
/// `outcome`; the exit code for it.
pub(crate) fn config_failure(error: &LoadError, outcome: &str) -> ExitCode {
    if let LoadError::Invalid { errors, warnings } = error {
        for warning in warnings {
            eprintln!("warning: {warning}");
        }
        for error in errors {
            eprintln!("error: {error}");
        }
        eprintln!(
            "ringbar: the config has {} error{}{outcome}.",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        );
    } else {
        eprintln!("ringbar: {error}");
    }
    ExitCode::from(EXIT_CONFIG)
}

/// The first SIGINT or SIGTERM asks the router to stop gracefully; a
/// second one ends the process at once.
fn watch_signals(mut signals: Signals, shutdown: ShutdownHandle, pid_path: &Path) {
    let pid_path = pid_path.to_path_buf();
    let fallback = shutdown.clone();
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut asked = false;
            for signal in signals.forever() {
                let name = signal_name(signal);
                if asked {
                    tracing::warn!("{name} again: exiting without waiting for the router.");
                    pidfile::remove(&pid_path);
                    std::process::exit(i32::from(EXIT_FAILURE));
                }
                asked = true;
                tracing::info!("{name} received: stopping the node.");
                shutdown.shutdown();
            }
        });
    if let Err(error) = spawned {
        // Without the thread, signals would stay caught and ignored: better
        // to stop now than to run a node that cannot be stopped.
        tracing::error!("cannot start the signal thread ({error}); stopping.");
        fallback.shutdown();
    }
}

fn fail(message: String) -> ExitCode {
    eprintln!("ringbar: {message}");
    ExitCode::from(EXIT_FAILURE)
}
