//! Helpers for the CLI tests: run the built `ringbar`, make scratch node
//! directories, wait for files and exits.

// Test support: a failure is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    dead_code,
    unreachable_pub
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn ringbar() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ringbar"));
    command.env_remove("RINGBAR_LOG");
    command
}

/// Runs `ringbar ARGS` to the end.
pub fn run(args: &[&str]) -> Output {
    ringbar().args(args).output().expect("ringbar runs")
}

/// A free TCP port on loopback (nothing listens on it once this returns).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Stdout and stderr as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A path for a node directory that does not exist yet; removed on drop.
pub struct Scratch {
    pub path: PathBuf,
}

impl Scratch {
    pub fn new(name: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("ringbar-cli-{name}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        Scratch { path }
    }

    /// The directory as an argument.
    pub fn arg(&self) -> &str {
        self.path.to_str().expect("a UTF-8 temp path")
    }

    /// Creates the directory with `config.json` = `config`.
    pub fn with_config(self, config: &str) -> Self {
        fs::create_dir_all(&self.path).unwrap();
        fs::write(self.path.join("config.json"), config).unwrap();
        self
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Waits until `path` exists or `child` exits; true if the file appeared.
pub fn wait_for_file(path: &Path, child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if path.exists() {
            return true;
        }
        if let Ok(Some(_)) = child.try_wait() {
            return path.exists();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Sends `signal` (e.g. "TERM") to `child` with the `kill` command.
pub fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} failed");
}

/// Waits for `child` to exit; kills it and fails after `timeout`.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ringbar did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts `ringbar ARGS` with stderr captured.
pub fn spawn(args: &[&str]) -> Child {
    ringbar()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ringbar starts")
}

/// The captured stderr of an exited child.
pub fn stderr_of(child: Child) -> String {
    text(&child.wait_with_output().expect("output").stderr)
}

/// A config with one realm and a RawSocket transport on a Unix socket in
/// the node directory, so that tests need no TCP port.
pub const UNIX_CONFIG: &str = r#"{
    "version": 2,
    "workers": [{
        "type": "router",
        "realms": [{"name": "realm1", "roles": [{"name": "anonymous", "permissions": [
            {"uri": "", "match": "prefix", "allow": {"call": true, "register": true, "publish": true, "subscribe": true}}
        ]}]}],
        "transports": [{"type": "rawsocket", "endpoint": {"type": "unix", "path": "router.sock"}}]
    }],
    "ringbar": {"cores": 1, "shutdown_timeout_ms": 1000}
}"#;
