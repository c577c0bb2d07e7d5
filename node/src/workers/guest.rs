//! The supervision of one guest worker, on a thread of its own: start it,
//! wait for it to end or for the node to stop, restart it as its policy
//! says, and stop it when the node stops.

use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ringbar_client::Backoff;

use crate::config::guest::{GuestWorker, RestartPolicy};

use super::output;
use super::spawn::{self, Running};
use super::{GuestState, GuestStatus, Stop};

/// How long a guest may take to end after SIGTERM before it gets SIGKILL.
pub(super) const STOP_GRACE: Duration = Duration::from_secs(5);

/// How often a running guest is checked for its exit.
const POLL: Duration = Duration::from_millis(50);

/// How long the output a guest wrote before it ended may take to be
/// logged, so that its last lines come before the line saying it ended.
const OUTPUT_DRAIN: Duration = Duration::from_secs(1);

/// Supervises `worker` until `stop` is requested or it ends for good;
/// `status` follows along for `ringbar status`.
fn supervise(worker: &GuestWorker, status: &Mutex<GuestStatus>, stop: &Stop) {
    let ms = Duration::from_millis;
    let restart = worker.restart;
    let mut backoff = Backoff::new(
        ms(restart.delay_ms),
        ms(restart.max_delay_ms),
        ms(restart.reset_after_ms),
    );
    loop {
        tracing::info!("Starting guest worker {}.", worker.id);
        let started = Instant::now();
        let success = match spawn::spawn(worker) {
            Ok(mut running) => {
                let pid = running.child.id();
                update(status, GuestState::Running, Some(pid));
                tracing::info!("Guest worker {} started (PID {pid}).", worker.id);
                let end = wait(worker, &mut running, stop);
                output::drain(running.loggers, OUTPUT_DRAIN);
                match end {
                    RunEnd::Exited(exit) => {
                        log_exit(worker, pid, exit);
                        exit.success()
                    }
                    RunEnd::Lost => false,
                    RunEnd::Stopped => {
                        tracing::info!("Guest worker {} stopped.", worker.id);
                        break;
                    }
                }
            }
            Err(error) => {
                tracing::error!(
                    "Cannot start guest worker {} ({}): {error}",
                    worker.id,
                    worker.executable.display()
                );
                false
            }
        };
        if stop.is_requested() {
            break;
        }
        if !worker.restart.policy.restarts(success) {
            update(status, GuestState::Exited { success }, None);
            tracing::info!(
                "Guest worker {} is not restarted (restart policy {}).",
                worker.id,
                policy_name(worker.restart.policy)
            );
            return;
        }
        let delay = backoff.after_run(started.elapsed());
        update(status, GuestState::Restarting, None);
        tracing::info!(
            "Restarting guest worker {} in {} ms (restart policy {}).",
            worker.id,
            delay.as_millis(),
            policy_name(worker.restart.policy)
        );
        if stop.wait(delay) {
            break;
        }
        let mut guard = status.lock().unwrap_or_else(|e| e.into_inner());
        guard.restarts += 1;
    }
    update(status, GuestState::Stopped, None);
}

/// How a guest's run ended.
enum RunEnd {
    /// The guest exited.
    Exited(ExitStatus),
    /// Its exit status could not be read: counted as a failure.
    Lost,
    /// The node stopped it.
    Stopped,
}

/// Waits for the guest to end, or for the node to stop (then stops it).
fn wait(worker: &GuestWorker, running: &mut Running, stop: &Stop) -> RunEnd {
    let pid = running.child.id();
    loop {
        match running.child.try_wait() {
            Ok(Some(exit)) => return RunEnd::Exited(exit),
            Ok(None) => {}
            Err(error) => {
                tracing::error!(
                    "cannot wait for guest worker {} (PID {pid}): {error}; taking it as failed.",
                    worker.id
                );
                return RunEnd::Lost;
            }
        }
        if stop.wait(POLL) {
            tracing::info!("Stopping guest worker {} (PID {pid}).", worker.id);
            if let Err(error) = spawn::terminate(&mut running.child, STOP_GRACE) {
                tracing::error!(
                    "cannot stop guest worker {} (PID {pid}): {error}",
                    worker.id
                );
            }
            return RunEnd::Stopped;
        }
    }
}

fn log_exit(worker: &GuestWorker, pid: u32, exit: ExitStatus) {
    use std::os::unix::process::ExitStatusExt;
    match (exit.code(), exit.signal()) {
        (Some(0), _) => tracing::info!("Guest worker {} (PID {pid}) exited.", worker.id),
        (Some(code), _) => tracing::warn!(
            "Guest worker {} (PID {pid}) exited with code {code}.",
            worker.id
        ),
        (None, Some(signal)) => tracing::warn!(
            "Guest worker {} (PID {pid}) was killed by signal {signal}.",
            worker.id
        ),
        (None, None) => tracing::warn!("Guest worker {} (PID {pid}) ended.", worker.id),
    }
}

fn update(status: &Mutex<GuestStatus>, state: GuestState, pid: Option<u32>) {
    let mut guard = status.lock().unwrap_or_else(|e| e.into_inner());
    guard.state = state;
    guard.pid = pid;
}

/// The policy's name, as in the config.
fn policy_name(policy: RestartPolicy) -> &'static str {
    match policy {
        RestartPolicy::Never => "never",
        RestartPolicy::OnFailure => "on-failure",
        RestartPolicy::Always => "always",
    }
}

/// Runs [`supervise`] for `worker` on a thread of its own.
pub(super) fn spawn_supervisor(
    worker: GuestWorker,
    status: Arc<Mutex<GuestStatus>>,
    stop: Stop,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        // Not the id: a thread name is short and may hold no NUL.
        .name("guest-worker".into())
        .spawn(move || supervise(&worker, &status, &stop))
}
