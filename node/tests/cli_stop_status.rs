//! `ringbar status DIR` and `ringbar stop DIR` against a running node, and
//! against a directory where none runs.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::fs;
use std::time::Duration;

use support::{Scratch, UNIX_CONFIG, spawn, stderr_of, text, wait_exit, wait_for_file};

const STARTUP: Duration = Duration::from_secs(20);
const SHUTDOWN: Duration = Duration::from_secs(20);

#[test]
fn status_and_stop_say_when_no_node_runs() {
    let dir = Scratch::new("status-none").with_config(UNIX_CONFIG);
    let status = support::run(&["status", dir.arg()]);
    assert_eq!(status.status.code(), Some(3));
    assert_eq!(
        text(&status.stdout).trim(),
        format!("No node is running from {}.", dir.arg())
    );
    let json = support::run(&["status", dir.arg(), "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["running"], false);
    let stop = support::run(&["stop", dir.arg()]);
    assert_eq!(stop.status.code(), Some(3));

    // Crossbar.io's spellings of the directory: --cbdir, $CROSSBAR_DIR.
    let status = support::run(&["status", "--cbdir", dir.arg()]);
    assert_eq!(status.status.code(), Some(3));
    assert_eq!(
        text(&status.stdout).trim(),
        format!("No node is running from {}.", dir.arg())
    );
    let stop = support::ringbar()
        .arg("stop")
        .env("CROSSBAR_DIR", dir.arg())
        .output()
        .unwrap();
    assert_eq!(stop.status.code(), Some(3));
    assert!(
        text(&stop.stdout).contains(dir.arg()),
        "{}",
        text(&stop.stdout)
    );
}

#[test]
fn status_reads_a_running_node_and_stop_ends_it_cleanly() {
    let dir = Scratch::new("status-run").with_config(UNIX_CONFIG);
    let (mut child, socket) = start_node(&dir);

    let status = support::run(&["status", dir.arg()]);
    let out = text(&status.stdout);
    assert_eq!(status.status.code(), Some(0), "{out}");
    for part in [
        format!("Node running from {} (PID {}, up ", dir.arg(), child.id()),
        "1 core, epoll".to_owned(),
        format!("transport0 rawsocket on unix:{}/router.sock", dir.arg()),
        "sessions: 0 (core 0: 0)".to_owned(),
        "messages in: 0/s, events out: 0/s".to_owned(),
    ] {
        assert!(out.contains(&part), "{part:?} missing in:\n{out}");
    }
    let json = support::run(&["status", dir.arg(), "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["running"], true);
    assert_eq!(doc["pid"], child.id());
    assert_eq!(doc["cores"], 1);
    assert_eq!(doc["io"], "epoll");

    let stop = support::run(&["stop", dir.arg()]);
    assert_eq!(stop.status.code(), Some(0), "{}", text(&stop.stderr));
    assert!(text(&stop.stdout).contains("Node stopped."));
    let exit = wait_exit(&mut child, SHUTDOWN);
    let stderr = stderr_of(child);
    assert_eq!(exit.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("Stop requested on the control socket"),
        "{stderr}"
    );
    assert!(!dir.path.join("node.pid").exists());
    assert!(!socket.exists(), "node.sock is removed on exit");
}

#[test]
fn stop_falls_back_to_sigterm_without_the_control_socket() {
    let dir = Scratch::new("stop-term").with_config(UNIX_CONFIG);
    let (mut child, socket) = start_node(&dir);
    fs::remove_file(&socket).unwrap();

    let stop = support::run(&["stop", dir.arg()]);
    assert_eq!(stop.status.code(), Some(0), "{}", text(&stop.stderr));
    let exit = wait_exit(&mut child, SHUTDOWN);
    let stderr = stderr_of(child);
    assert_eq!(exit.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("SIGTERM received: stopping the node."),
        "{stderr}"
    );
}

#[test]
fn stop_never_signals_another_program_that_took_a_dead_nodes_pid() {
    let dir = Scratch::new("stop-reused").with_config(UNIX_CONFIG);
    let mut other = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    // a node that died without removing its pid file, whose pid now runs
    // another program
    let record = serde_json::json!({"pid": other.id(), "argv": ["ringbar", "start", dir.arg()]});
    fs::write(dir.path.join("node.pid"), record.to_string()).unwrap();
    let stop = support::run(&["stop", dir.arg()]);
    assert_eq!(stop.status.code(), Some(3), "{}", text(&stop.stderr));
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        other.try_wait().unwrap().is_none(),
        "ringbar stop signalled another program"
    );
    other.kill().unwrap();
    other.wait().unwrap();
}

#[test]
fn the_control_socket_answers_its_own_user_only() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = Scratch::new("socket-uid").with_config(UNIX_CONFIG);
    let (mut child, socket) = start_node(&dir);
    let mode = fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "node.sock mode {mode:o}");
    // SAFETY: geteuid(2) takes nothing and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        // Opened up by hand, the socket still refuses another user's client
        // (by its credentials); root's own test process may set any uid.
        fs::set_permissions(&socket, fs::Permissions::from_mode(0o666)).unwrap();
        let nobody = std::process::Command::new(env!("CARGO_BIN_EXE_ringbar"))
            .args(["status", dir.arg(), "--json"])
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&nobody.stdout).unwrap_or_default();
        assert_ne!(doc["running"], true, "{}", text(&nobody.stdout));
        assert!(
            !text(&nobody.stdout).contains("\"pid\""),
            "another user read the node's status: {}",
            text(&nobody.stdout)
        );
    }
    let stop = support::run(&["stop", dir.arg()]);
    assert_eq!(stop.status.code(), Some(0), "{}", text(&stop.stderr));
    wait_exit(&mut child, SHUTDOWN);
}

/// Starts a node on `dir` and waits for its control socket.
fn start_node(dir: &Scratch) -> (std::process::Child, std::path::PathBuf) {
    let mut child = spawn(&["start", dir.arg(), "--io", "epoll"]);
    let socket = dir.path.join("node.sock");
    assert!(
        wait_for_file(&socket, &mut child, STARTUP),
        "no node.sock: {}",
        stderr_of(child)
    );
    (child, socket)
}
