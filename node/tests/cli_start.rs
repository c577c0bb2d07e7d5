//! `ringbar start DIR`: pid file, signals, exit codes, Crossbar.io's
//! `--cbdir` and `--config`.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::fs;
use std::time::Duration;

use support::{Scratch, UNIX_CONFIG, signal, spawn, stderr_of, wait_exit, wait_for_file};

const STARTUP: Duration = Duration::from_secs(20);
const SHUTDOWN: Duration = Duration::from_secs(20);

/// Starts the node of `dir` on epoll and waits for its pid file; the
/// process and the pid file's path.
fn start(dir: &Scratch) -> (std::process::Child, std::path::PathBuf) {
    let pid_path = dir.path.join("node.pid");
    let mut child = spawn(&["start", dir.arg(), "--io", "epoll"]);
    assert!(
        wait_for_file(&pid_path, &mut child, STARTUP),
        "no node.pid: {}",
        stderr_of(child)
    );
    (child, pid_path)
}

#[test]
fn start_writes_the_pid_file_and_stops_on_sigterm() {
    let dir = Scratch::new("start-term").with_config(UNIX_CONFIG);
    let (mut child, pid_path) = start(&dir);
    let pid_file: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&pid_path).unwrap()).unwrap();
    assert_eq!(pid_file["pid"], child.id());
    assert!(wait_for_file(
        &dir.path.join("router.sock"),
        &mut child,
        STARTUP
    ));

    signal(&child, "TERM");
    let status = wait_exit(&mut child, SHUTDOWN);
    let stderr = stderr_of(child);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!pid_path.exists(), "node.pid is removed on a clean exit");
    for line in [
        "Instance key generated.",
        &format!("Config loaded from {}/config.json.", dir.arg()),
        "Starting routing service.",
        &format!("Starting RawSocket transport on {}/router.sock.", dir.arg()),
        "Instance started.",
        "SIGTERM received: stopping the node.",
        "Node stopped.",
    ] {
        assert!(stderr.contains(line), "{line:?} missing in:\n{stderr}");
    }
}

#[test]
fn start_stops_on_sigint_and_a_second_start_refuses() {
    let dir = Scratch::new("start-int").with_config(UNIX_CONFIG);
    let pid_path = dir.path.join("node.pid");
    let mut child = spawn(&["start", dir.arg(), "--loglevel", "warn"]);
    assert!(
        wait_for_file(&pid_path, &mut child, STARTUP),
        "no node.pid: {}",
        stderr_of(child)
    );

    let second = support::run(&["start", dir.arg()]);
    assert_eq!(second.status.code(), Some(1));
    let second_stderr = support::text(&second.stderr);
    assert!(
        second_stderr.contains(&format!(
            "a node is already running from {} (PID {})",
            dir.arg(),
            child.id()
        )),
        "{second_stderr}"
    );
    assert!(
        pid_path.exists(),
        "the refused start leaves the pid file alone"
    );

    signal(&child, "INT");
    let status = wait_exit(&mut child, SHUTDOWN);
    let stderr = stderr_of(child);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains("INFO"),
        "--loglevel warn hides info lines:\n{stderr}"
    );
    assert!(!pid_path.exists());
}

#[test]
fn start_initialises_a_missing_directory() {
    let dir = Scratch::new("start-fresh");
    let pid_path = dir.path.join("node.pid");
    let mut child = spawn(&["start", dir.arg(), "--cores", "1"]);
    let started = wait_for_file(&pid_path, &mut child, STARTUP);
    assert!(dir.path.join("config.json").exists());
    assert!(dir.path.join("key.priv").exists());
    assert!(dir.path.join("key.pub").exists());
    if !started {
        // The default config listens on 127.0.0.1:8080 and 8081; another
        // program on this machine may hold them. Then start must say so.
        let status = wait_exit(&mut child, SHUTDOWN);
        let stderr = stderr_of(child);
        assert_eq!(status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("cannot start"), "{stderr}");
        eprintln!("ports 8080/8081 are busy here; checked the start error instead");
        return;
    }
    signal(&child, "TERM");
    let status = wait_exit(&mut child, SHUTDOWN);
    let stderr = stderr_of(child);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("Node directory {} initialised.", dir.arg())),
        "{stderr}"
    );
    assert!(!pid_path.exists());
}

#[test]
fn start_with_a_bad_config_exits_2_and_leaves_no_files() {
    let dir = Scratch::new("start-bad").with_config("{\"version\": 2, \"workers\": []}");
    let output = support::run(&["start", dir.arg()]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        support::text(&output.stderr),
        "error: config.json: workers: no router worker: add {\"type\": \"router\", \"realms\": [...], \"transports\": [...]} (`ringbar init` writes an example)\n\
         ringbar: the config has 1 error; nothing was started.\n"
    );
    assert!(!dir.path.join("node.pid").exists());
    assert!(!dir.path.join("key.priv").exists());
}

#[test]
fn start_on_a_port_in_use_exits_1_with_one_line() {
    // A plain listener (without SO_REUSEPORT) holds the port.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let config = UNIX_CONFIG.replace(
        r#"{"type": "unix", "path": "router.sock"}"#,
        &format!(r#"{{"type": "tcp", "interface": "127.0.0.1", "port": {port}}}"#),
    );
    let dir = Scratch::new("start-busy").with_config(&config);
    let output = support::run(&["start", dir.arg(), "--loglevel", "none"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        support::text(&output.stderr),
        format!(
            "ringbar: cannot start: transport transport0: cannot listen on 127.0.0.1:{port}: Address already in use (os error 98)\n"
        )
    );
    assert!(!dir.path.join("node.pid").exists());
}

#[test]
fn a_managed_node_waits_for_its_service_and_stops_on_sigterm_meanwhile() {
    let dir = Scratch::new("start-uplink");
    assert!(support::run(&["init", dir.arg()]).status.success());
    // a port nobody listens on: the service is unreachable
    let port = support::free_port();
    let url = format!("ws://127.0.0.1:{port}/ws");
    let config = UNIX_CONFIG.replace(
        r#""ringbar": {"#,
        &format!(r#""ringbar": {{"management": {{"url": "{url}"}}, "#),
    );
    fs::write(dir.path.join("config.json"), config).unwrap();
    let (mut child, pid_path) = start(&dir);
    std::thread::sleep(std::time::Duration::from_millis(300));
    signal(&child, "TERM");
    let status = wait_exit(&mut child, SHUTDOWN);
    let stderr = stderr_of(child);
    assert_eq!(status.code(), Some(0), "{stderr}");
    for line in [
        "Instance key loaded.",
        &format!("Management service at {url} unreachable"),
        "SIGTERM received: stopping the node.",
        "Node stopped.",
    ] {
        assert!(stderr.contains(line), "{line:?} missing in:\n{stderr}");
    }
    // not configured yet: it never routed
    assert!(!stderr.contains("Instance started."), "{stderr}");
    assert!(!stderr.contains("Instance key generated."), "{stderr}");
    assert!(!pid_path.exists());
}

#[test]
fn sigterm_stops_a_node_whose_log_reader_went_away() {
    let dir = Scratch::new("start-no-reader").with_config(UNIX_CONFIG);
    let (mut child, _) = start(&dir);
    // Nobody reads the node's stderr any more: its next log line fails.
    drop(child.stderr.take());
    signal(&child, "TERM");
    let status = wait_exit(&mut child, SHUTDOWN);
    assert_eq!(status.code(), Some(0));
}

#[test]
fn start_takes_cbdir_and_config_and_skips_a_disabled_worker() {
    // config.json is broken: --config names the file to run instead, and
    // its second router is disabled, so it is no "second router" error.
    let dir = Scratch::new("start-cbdir").with_config("not a config");
    let disabled = r#"{"type": "router", "options": {"disabled": true}, "transports": [{"type": "rawsocket", "endpoint": {"type": "unix", "path": "other.sock"}}]}"#;
    let config = UNIX_CONFIG.replacen(
        "}],\n    \"ringbar\"",
        &format!("}}, {disabled}],\n    \"ringbar\""),
        1,
    );
    assert_ne!(config, UNIX_CONFIG);
    fs::create_dir_all(dir.path.join("conf")).unwrap();
    fs::write(dir.path.join("conf/node.json"), config).unwrap();
    let pid_path = dir.path.join("node.pid");
    let mut child = spawn(&[
        "start",
        "--cbdir",
        dir.arg(),
        "--config",
        "conf/node.json",
        "--io",
        "epoll",
    ]);
    assert!(
        wait_for_file(&dir.path.join("router.sock"), &mut child, STARTUP),
        "no router.sock: {}",
        stderr_of(child)
    );
    assert!(pid_path.exists());
    assert!(
        !dir.path.join("other.sock").exists(),
        "the disabled worker listens"
    );
    signal(&child, "TERM");
    let status = wait_exit(&mut child, SHUTDOWN);
    let stderr = stderr_of(child);
    assert_eq!(status.code(), Some(0), "{stderr}");
    for line in [
        "node.json: workers[1].options.disabled: the worker is disabled: checked, not started",
        &format!("Config loaded from {}/conf/node.json.", dir.arg()),
    ] {
        assert!(stderr.contains(line), "{line:?} missing in:\n{stderr}");
    }
}
