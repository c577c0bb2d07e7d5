//! `ringbar stop DIR`: stops the node of a directory and waits for its
//! clean exit.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::control;
use crate::pidfile::{self, PID_FILE};
use crate::status::EXIT_NOT_RUNNING;

/// How often the stopping node is checked.
const POLL: Duration = Duration::from_millis(50);

/// Asks the node of `dir` to stop (on its control socket, else with
/// SIGTERM to the pid in `DIR/node.pid`) and waits up to `timeout` for the
/// process to end: exit 0 once it has, 3 when no node runs, 1 when it did
/// not stop in time or could not be asked.
pub(crate) fn run(dir: &Path, timeout: Duration) -> ExitCode {
    let pid = pidfile::running_pid(&dir.join(PID_FILE));
    let Some(pid) = pid else {
        println!("No node is running from {}.", dir.display());
        return ExitCode::from(EXIT_NOT_RUNNING);
    };
    if let Err(error) = control::request(dir, "stop") {
        tracing::debug!("control socket: {error}; sending SIGTERM instead");
        if let Err(error) = terminate(pid) {
            eprintln!("ringbar: cannot stop the node (PID {pid}): {error}");
            return ExitCode::from(crate::EXIT_FAILURE);
        }
    }
    println!("Stopping the node (PID {pid}) ...");
    let started = Instant::now();
    while pidfile::is_alive(pid) {
        if started.elapsed() > timeout {
            eprintln!(
                "ringbar: the node (PID {pid}) did not stop within {} s; it may still be flushing, or send it SIGKILL (kill -9 {pid}).",
                timeout.as_secs()
            );
            return ExitCode::from(crate::EXIT_FAILURE);
        }
        std::thread::sleep(POLL);
    }
    println!("Node stopped.");
    ExitCode::SUCCESS
}

/// Sends SIGTERM to `pid`.
fn terminate(pid: u32) -> std::io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(std::io::Error::other)?;
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    if unsafe { libc::kill(pid, libc::SIGTERM) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
