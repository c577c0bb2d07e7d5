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
    let mut child = spawn(&["start", dir.arg(), "--io", "epoll"]);
    let socket = dir.path.join("node.sock");
    assert!(
        wait_for_file(&socket, &mut child, STARTUP),
        "no node.sock: {}",
        stderr_of(child)
    );

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
    let mut child = spawn(&["start", dir.arg(), "--io", "epoll"]);
    let socket = dir.path.join("node.sock");
    assert!(
        wait_for_file(&socket, &mut child, STARTUP),
        "no node.sock: {}",
        stderr_of(child)
    );
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
