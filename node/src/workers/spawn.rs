//! Starting a guest's process and ending it: its command line, working
//! directory, environment and standard streams as configured; its own
//! process group (so that stopping it reaches the programs it started);
//! and death with the node (`PR_SET_PDEATHSIG`), so no guest outlives a
//! node that was killed.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::guest::{GuestWorker, Inherit, OutputPolicy, StdinPolicy};

use super::output;

/// Set for every guest unless its config says otherwise, as Crossbar.io
/// does, so that Python guests write their lines as they happen.
const PYTHON_UNBUFFERED: &str = "PYTHONUNBUFFERED";

/// How often a stopping guest is checked for its exit.
const EXIT_POLL: Duration = Duration::from_millis(20);

/// A started guest process.
pub(super) struct Running {
    /// The process.
    pub(super) child: Child,
    /// The threads logging its stdout and stderr.
    pub(super) loggers: Vec<JoinHandle<()>>,
    /// The node's end of the guest's stdin, held open while it runs when
    /// the config keeps it open.
    _stdin: Option<OwnedFd>,
}

/// Starts the process of `worker`; its output is logged as configured.
pub(super) fn spawn(worker: &GuestWorker) -> io::Result<Running> {
    let mut command = Command::new(&worker.executable);
    command
        .args(&worker.arguments)
        .current_dir(&worker.workdir)
        .env_clear()
        .envs(environment(worker))
        .stdin(match worker.stdin {
            StdinPolicy::Close => Stdio::null(),
            StdinPolicy::Open | StdinPolicy::Write { .. } => Stdio::piped(),
        })
        .stdout(stdio(worker.stdout))
        .stderr(stdio(worker.stderr));
    let node = libc::pid_t::try_from(std::process::id()).map_err(io::Error::other)?;
    // SAFETY: the closure runs in the forked child before exec and calls
    // only async-signal-safe functions (setpgid, prctl, getppid), touching
    // no memory shared with the parent.
    unsafe {
        command.pre_exec(move || {
            if libc::setpgid(0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The node died between fork and prctl: the signal will never
            // come, so do not run orphaned.
            if libc::getppid() != node {
                return Err(io::Error::other("the node exited while the guest started"));
            }
            Ok(())
        });
    }
    let mut child = command.spawn()?;
    let mut loggers = Vec::with_capacity(2);
    for (policy, stream, name) in [
        (
            worker.stdout,
            child.stdout.take().map(OwnedFd::from),
            "stdout",
        ),
        (
            worker.stderr,
            child.stderr.take().map(OwnedFd::from),
            "stderr",
        ),
    ] {
        // `close`: the stream is dropped here, so the guest's writes fail.
        if let (OutputPolicy::Log, Some(stream)) = (policy, stream) {
            loggers.extend(output::spawn_logger(&worker.id, name, File::from(stream)));
        }
    }
    let stdin = child.stdin.take().map(OwnedFd::from);
    let stdin = match (&worker.stdin, stdin) {
        (StdinPolicy::Write { text, close }, Some(fd)) => {
            write_stdin(&worker.id, text, &fd);
            (!close).then_some(fd)
        }
        (_, fd) => fd,
    };
    Ok(Running {
        child,
        loggers,
        _stdin: stdin,
    })
}

/// Ends `child` and every process of its group: SIGTERM, then SIGKILL
/// once `grace` has passed; reaps it.
pub(super) fn terminate(child: &mut Child, grace: Duration) -> io::Result<ExitStatus> {
    signal_group(child, libc::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        std::thread::sleep(EXIT_POLL);
    }
    signal_group(child, libc::SIGKILL);
    child.wait()
}

/// Sends `signal` to the process group `child` leads.
fn signal_group(child: &Child, signal: libc::c_int) {
    let Ok(group) = libc::pid_t::try_from(child.id()) else {
        return;
    };
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    // The group id cannot be reused while `child` is not reaped.
    unsafe {
        libc::kill(-group, signal);
    }
}

/// The guest's environment: what it inherits, its `vars`, and
/// `PYTHONUNBUFFERED=1` unless either sets it. Read with `vars_os`: a
/// variable that is not UTF-8 is passed on, not a panic.
fn environment(worker: &GuestWorker) -> BTreeMap<OsString, OsString> {
    let mut env: BTreeMap<OsString, OsString> = match &worker.env.inherit {
        Inherit::All => std::env::vars_os().collect(),
        Inherit::Nothing => BTreeMap::new(),
        Inherit::Only(names) => names
            .iter()
            .filter_map(|name| std::env::var_os(name).map(|value| (name.into(), value)))
            .collect(),
    };
    env.extend(
        worker
            .env
            .vars
            .iter()
            .map(|(name, value)| (name.into(), value.into())),
    );
    env.entry(PYTHON_UNBUFFERED.into())
        .or_insert_with(|| "1".into());
    env
}

fn stdio(policy: OutputPolicy) -> Stdio {
    match policy {
        OutputPolicy::Log | OutputPolicy::Close => Stdio::piped(),
        OutputPolicy::Drop => Stdio::null(),
    }
}

/// Writes `text` to the guest's stdin from a thread of its own (a guest
/// that does not read must not block the node), on a duplicate of `fd` so
/// that the caller decides when the pipe closes.
fn write_stdin(worker: &str, text: &str, fd: &OwnedFd) {
    let copy = match fd.try_clone() {
        Ok(copy) => copy,
        Err(error) => {
            tracing::warn!("cannot write stdin of guest worker {worker}: {error}");
            return;
        }
    };
    let text = text.to_owned();
    let worker_id = worker.to_owned();
    let spawned = std::thread::Builder::new()
        .name("guest-stdin".into())
        .spawn(move || {
            if let Err(error) = File::from(copy).write_all(text.as_bytes()) {
                tracing::warn!("cannot write stdin of guest worker {worker_id}: {error}");
            }
        });
    if let Err(error) = spawned {
        tracing::warn!("cannot write stdin of guest worker {worker}: {error}");
    }
}
