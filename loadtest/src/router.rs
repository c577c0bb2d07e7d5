//! `--spawn`: the router under test started by the load generator itself,
//! pinned to `--router-cores`, waited for until its port accepts, and
//! stopped (SIGTERM to its process group, SIGKILL after a grace period).

use std::fs::File;
use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a router may take to accept connections (Crossbar.io takes seconds).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a router may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// A router process this run started; stopped on drop.
pub(crate) struct SpawnedRouter {
    child: Child,
    log: PathBuf,
}

impl SpawnedRouter {
    /// Runs `command` through `sh` (under `taskset -c CORES` when `cores` is
    /// given), in its own process group, output to a log file, and waits
    /// until `authority` (`host:port`) accepts.
    pub(crate) fn start(command: &str, cores: Option<&str>, authority: &str) -> io::Result<Self> {
        let log = std::env::temp_dir().join(format!("loadtest-router-{}.log", std::process::id()));
        let out = File::create(&log)?;
        let line = match cores {
            Some(cores) => format!("exec taskset -c {cores} {command}"),
            None => format!("exec {command}"),
        };
        let child = Command::new("sh")
            .arg("-c")
            .arg(&line)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .env("NO_COLOR", "1")
            .process_group(0)
            .spawn()
            .map_err(|e| io::Error::other(format!("--spawn: cannot run sh -c '{line}': {e}")))?;
        let mut router = Self { child, log };
        router.wait_for_port(authority, &line)?;
        Ok(router)
    }

    /// The router's process id (its descendants count too, see `proc_stat`).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    fn wait_for_port(&mut self, authority: &str, line: &str) -> io::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        let addresses: Vec<_> = authority.to_socket_addrs()?.collect();
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "--spawn: '{line}' exited ({status}) before accepting on {}; its output:\n{}",
                    authority,
                    self.log_tail()
                )));
            }
            if addresses
                .iter()
                .any(|a| TcpStream::connect_timeout(a, Duration::from_millis(500)).is_ok())
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "--spawn: '{line}' did not accept on {} within {}s; its output:\n{}",
                    authority,
                    START_TIMEOUT.as_secs(),
                    self.log_tail()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the router: SIGTERM to its process group, SIGKILL if it has
    /// not exited within the grace period.
    pub(crate) fn stop(mut self) -> io::Result<()> {
        self.signal("TERM");
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.signal("KILL");
        self.child.wait()?;
        Err(io::Error::other(format!(
            "the spawned router ignored SIGTERM for {}s and was killed",
            STOP_TIMEOUT.as_secs()
        )))
    }

    fn signal(&self, name: &str) {
        // The negative pid names the whole process group: a router's workers too.
        let _ = Command::new("kill")
            .arg(format!("-{name}"))
            .arg("--")
            .arg(format!("-{}", self.child.id()))
            .stderr(Stdio::null())
            .status();
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(4000);
        text.get(start..).unwrap_or_default().to_owned()
    }
}

impl Drop for SpawnedRouter {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.signal("KILL");
            let _ = self.child.wait();
        }
    }
}
