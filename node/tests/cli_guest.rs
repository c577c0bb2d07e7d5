//! Guest workers: `/bin/sh` scripts run by a real node, their output in the
//! node's log, restarts by policy, and their end when the node stops or
//! dies; `ringbar check` on broken guest configs.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use support::{Scratch, UNIX_CONFIG, spawn, stderr_of, text, wait_exit, wait_for_file};

const STARTUP: Duration = Duration::from_secs(20);
const SHUTDOWN: Duration = Duration::from_secs(30);

/// `UNIX_CONFIG` with `guests` (JSON objects) added to its workers.
fn config_with(guests: &str) -> String {
    UNIX_CONFIG.replacen("\n    }],", &format!("\n    }}, {guests}],"), 1)
}

/// A node directory with `config` and the executable `/bin/sh` script
/// `name` = `body`.
fn node_with_script(scratch: &str, config: &str, name: &str, body: &str) -> Scratch {
    let dir = Scratch::new(scratch).with_config(config);
    let script = dir.path.join(name);
    fs::write(&script, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Starts the node of `dir` and waits for its control socket.
fn start(dir: &Scratch) -> Child {
    let mut child = spawn(&["start", dir.arg(), "--io", "epoll"]);
    if !wait_for_file(&dir.path.join("node.sock"), &mut child, STARTUP) {
        panic!("no node.sock: {}", stderr_of(child));
    }
    child
}

/// Stops the node with `ringbar stop` and returns its log.
fn stop(dir: &Scratch, mut child: Child) -> String {
    let stop = support::run(&["stop", dir.arg()]);
    assert_eq!(stop.status.code(), Some(0), "{}", text(&stop.stderr));
    let exit = wait_exit(&mut child, SHUTDOWN);
    let log = stderr_of(child);
    assert_eq!(exit.code(), Some(0), "{log}");
    log
}

/// Waits until `done` holds; false after `timeout`.
fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// The lines of `path` (none when it does not exist).
fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Whether process `pid` still runs (a zombie waiting for its reaper does
/// not: in a container, PID 1 may never reap it).
fn is_running(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// The status document of the node of `dir`.
fn status_json(dir: &Scratch) -> serde_json::Value {
    let output = support::run(&["status", dir.arg(), "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn guest_output_is_logged_with_the_worker_name() {
    let config = config_with(
        r#"{"type": "guest", "id": "printer", "executable": "printer.sh", "arguments": ["one two"]}"#,
    );
    let body = r#"echo "hello from the guest: $1"
echo "to stderr" >&2
printf 'no newline at the end'
echo $$ > printer.pid
exec sleep 600"#;
    let dir = node_with_script("guest-log", &config, "printer.sh", body);
    let child = start(&dir);
    let pid_file = dir.path.join("printer.pid");
    assert!(wait_until(STARTUP, || lines(&pid_file).len() == 1));
    let pid: u32 = lines(&pid_file)[0].parse().unwrap();

    let status = support::run(&["status", dir.arg()]);
    let out = text(&status.stdout);
    assert!(
        out.contains(&format!("guests: printer running (PID {pid}, 0 restarts)")),
        "{out}"
    );
    let log = stop(&dir, child);
    for line in [
        "Starting guest worker printer.".to_owned(),
        format!("Guest worker printer started (PID {pid})."),
        "printer: hello from the guest: one two".to_owned(),
        "printer: to stderr".to_owned(),
        format!("Stopping guest worker printer (PID {pid})."),
        // A last line without a newline is logged when the stream ends,
        // before the node says the guest stopped.
        "printer: no newline at the end\n".to_owned(),
        "Guest worker printer stopped.".to_owned(),
    ] {
        assert!(log.contains(&line), "{line:?} missing in:\n{log}");
    }
    let last_words = log.find("printer: no newline at the end").unwrap();
    assert!(
        last_words < log.find("Guest worker printer stopped.").unwrap(),
        "{log}"
    );
    assert!(!is_running(pid), "the guest outlived the node");
}

#[test]
fn a_failing_guest_is_restarted_on_failure_with_backoff() {
    let config = config_with(
        r#"{"type": "guest", "executable": "crash.sh",
            "restart": {"policy": "on-failure", "delay_ms": 50, "max_delay_ms": 200}}"#,
    );
    let dir = node_with_script(
        "guest-crash",
        &config,
        "crash.sh",
        "echo run >> runs\nexit 3",
    );
    let child = start(&dir);
    let runs = dir.path.join("runs");
    assert!(
        wait_until(STARTUP, || lines(&runs).len() >= 4),
        "runs: {:?}",
        lines(&runs)
    );
    let doc = status_json(&dir);
    let guest = &doc["guests"][0];
    // The router worker is worker001, as Crossbar.io numbers them.
    assert_eq!(guest["id"], "worker002", "{doc}");
    assert!(guest["restarts"].as_u64().unwrap() >= 3, "{doc}");
    let log = stop(&dir, child);
    for line in [
        "exited with code 3.",
        "Restarting guest worker worker002 in 50 ms (restart policy on-failure).",
        "Restarting guest worker worker002 in 100 ms (restart policy on-failure).",
        "Restarting guest worker worker002 in 200 ms (restart policy on-failure).",
    ] {
        assert!(log.contains(line), "{line:?} missing in:\n{log}");
    }
}

#[test]
fn never_and_on_failure_leave_ended_guests_alone_and_always_restarts() {
    let config = config_with(
        r#"{"type": "guest", "id": "never", "executable": "run.sh", "arguments": ["never", "3"]},
           {"type": "guest", "id": "clean", "executable": "run.sh", "arguments": ["clean", "0"],
            "restart": "on-failure"},
           {"type": "guest", "id": "always", "executable": "run.sh", "arguments": ["always", "0"],
            "restart": {"policy": "always", "delay_ms": 50}}"#,
    );
    let dir = node_with_script(
        "guest-never",
        &config,
        "run.sh",
        "echo run >> \"$1.runs\"\nexit \"$2\"",
    );
    let child = start(&dir);
    let runs = |name: &str| lines(&dir.path.join(format!("{name}.runs"))).len();
    assert!(wait_until(STARTUP, || runs("always") >= 3));
    assert!(wait_until(STARTUP, || runs("never") == 1 && runs("clean") == 1));
    // Time enough for a restart that should not happen.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!((runs("never"), runs("clean")), (1, 1));
    let doc = status_json(&dir);
    let state = |at: usize| doc["guests"][at]["state"].as_str().unwrap().to_owned();
    assert_eq!(state(0), "failed", "{doc}");
    assert_eq!(state(1), "exited", "{doc}");
    assert_eq!(doc["guests"][0]["restarts"], 0);
    let log = stop(&dir, child);
    assert!(
        log.contains("Guest worker never is not restarted (restart policy never)."),
        "{log}"
    );
}

#[test]
fn stop_ends_every_guest_even_one_that_ignores_sigterm() {
    // A node of guest workers only, as Crossbar.io allows.
    let config = r#"{"version": 2, "workers": [
        {"type": "guest", "id": "polite", "executable": "guest.sh", "arguments": ["polite"]},
        {"type": "guest", "id": "stubborn", "executable": "guest.sh", "arguments": ["stubborn"]}
    ], "ringbar": {"cores": 1}}"#;
    let body = r#"if [ "$1" = stubborn ]; then trap '' TERM; fi
echo $$ > "$1.pid"
while :; do sleep 1; done"#;
    let dir = node_with_script("guest-stop", config, "guest.sh", body);
    let child = start(&dir);
    let pid = |name: &str| -> Option<u32> {
        lines(&dir.path.join(format!("{name}.pid")))
            .first()
            .and_then(|line| line.parse().ok())
    };
    assert!(wait_until(STARTUP, || pid("polite").is_some()
        && pid("stubborn").is_some()));
    let (polite, stubborn) = (pid("polite").unwrap(), pid("stubborn").unwrap());
    assert!(is_running(polite) && is_running(stubborn));
    let check = support::run(&["check", dir.arg()]);
    assert!(
        text(&check.stdout).ends_with("0 realms, 0 transports, 2 guest workers.\n"),
        "{}",
        text(&check.stdout)
    );

    let started = Instant::now();
    let log = stop(&dir, child);
    assert!(!is_running(polite), "polite guest still runs:\n{log}");
    assert!(!is_running(stubborn), "stubborn guest still runs:\n{log}");
    // The stubborn one got SIGKILL after the grace period.
    assert!(started.elapsed() >= Duration::from_secs(4), "{log}");
    assert!(log.contains("Guest worker stubborn stopped."), "{log}");
}

#[test]
fn guests_die_with_a_killed_node() {
    let config = config_with(r#"{"type": "guest", "id": "orphan", "executable": "orphan.sh"}"#);
    let dir = node_with_script(
        "guest-orphan",
        &config,
        "orphan.sh",
        "echo $$ > orphan.pid\nexec sleep 600",
    );
    let mut child = start(&dir);
    let pid_file = dir.path.join("orphan.pid");
    assert!(wait_until(STARTUP, || lines(&pid_file).len() == 1));
    let pid: u32 = lines(&pid_file)[0].parse().unwrap();
    support::signal(&child, "KILL");
    wait_exit(&mut child, SHUTDOWN);
    assert!(
        wait_until(Duration::from_secs(10), || !is_running(pid)),
        "guest {pid} outlived its node"
    );
}

#[test]
fn check_names_guest_mistakes_and_their_fixes() {
    let config = config_with(
        r#"{"type": "guest", "executable": "missing.sh", "restart": "sometimes"},
           {"type": "guest", "executable": "notes.txt", "options": {"workdir": "nowhere", "stdout": "file"}}"#,
    );
    let dir = Scratch::new("guest-check").with_config(&config);
    fs::write(dir.path.join("notes.txt"), "").unwrap();
    let output = support::run(&["check", dir.arg()]);
    assert_eq!(output.status.code(), Some(2));
    let d = dir.arg();
    assert_eq!(
        text(&output.stderr),
        [
            format!("error: config.json: workers[1].executable: \"missing.sh\" is neither in the worker's workdir ({d}) nor on PATH: give its full path"),
            "error: config.json: workers[1].restart: \"sometimes\" is not one of never, on-failure, always".to_owned(),
            format!("error: config.json: workers[2].options.workdir: {d}/nowhere is not a directory: create it, or give a path relative to the node directory"),
            "error: config.json: workers[2].options.stdout: \"file\" is not one of log, drop, close".to_owned(),
            "ringbar: the config has 4 errors.".to_owned(),
            String::new(),
        ]
        .join("\n")
    );
}

#[test]
fn workdir_env_and_stdin_are_given_as_configured() {
    let config = config_with(
        r#"{"type": "guest", "id": "reader", "executable": "reader.sh",
            "options": {"workdir": "work", "env": {"inherit": false, "vars": {"GREETING": "hi there"}},
                        "stdin": {"type": "json", "value": {"answer": 42}}}}"#,
    );
    let dir = Scratch::new("guest-env").with_config(&config);
    let work = dir.path.join("work");
    fs::create_dir_all(&work).unwrap();
    // Crossbar.io looks for the executable in the workdir.
    let script = work.join("reader.sh");
    fs::write(&script, "#!/bin/sh\ncat > got.stdin\nenv > got.env\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    assert_ne!(std::env::var_os("HOME"), None, "the test needs HOME set");
    let child = start(&dir);
    let env_file = work.join("got.env");
    assert!(wait_until(STARTUP, || lines(&env_file)
        .iter()
        .any(|l| l.starts_with("GREETING="))));
    let log = stop(&dir, child);
    assert_eq!(
        fs::read_to_string(work.join("got.stdin")).unwrap(),
        r#"{"answer":42}"#,
        "{log}"
    );
    let env = lines(&env_file);
    assert!(env.contains(&"GREETING=hi there".to_owned()), "{env:?}");
    assert!(env.contains(&"PYTHONUNBUFFERED=1".to_owned()), "{env:?}");
    assert!(!env.iter().any(|l| l.starts_with("HOME=")), "{env:?}");
}
