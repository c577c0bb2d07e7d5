//! `ringbar management init | adduser | users | nodes | start`.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::fs;
use std::process::Stdio;
use std::time::Duration;

use support::{Scratch, ringbar, run, text, wait_exit, wait_for_file};

const STARTUP: Duration = Duration::from_secs(20);

/// `ringbar management ARGS` with stdin closed (not a terminal) and
/// `RINGBAR_PASSWORD` = `password` when given.
fn management(args: &[&str], password: Option<&str>) -> std::process::Output {
    let mut command = ringbar();
    command
        .arg("management")
        .args(args)
        .env_remove("RINGBAR_PASSWORD")
        .stdin(Stdio::null());
    if let Some(password) = password {
        command.env("RINGBAR_PASSWORD", password);
    }
    command.output().unwrap()
}

fn init(name: &str) -> Scratch {
    let dir = Scratch::new(name);
    let output = management(&["init", dir.arg()], None);
    assert!(output.status.success(), "{}", text(&output.stderr));
    dir
}

#[test]
fn init_writes_a_router_config_a_key_and_the_state_database() {
    let dir = init("mgmt-init");
    for file in ["config.json", "key.priv", "key.pub", "management.db"] {
        assert!(dir.path.join(file).is_file(), "{file} missing");
    }
    let config: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.path.join("config.json")).unwrap()).unwrap();
    let router = &config["workers"][0];
    assert_eq!(router["realms"][0]["name"], "ringbar.management");
    assert_eq!(router["transports"][0]["endpoint"]["port"], 9000);
    assert_eq!(
        router["transports"][0]["endpoint"]["interface"],
        "127.0.0.1"
    );
    let output = run(&["check", dir.arg()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));

    let output = management(&["users", dir.arg()], None);
    assert!(output.status.success());
    assert!(
        text(&output.stdout).starts_with("No owners yet"),
        "{}",
        text(&output.stdout)
    );
    let output = management(&["nodes", dir.arg()], None);
    assert_eq!(text(&output.stdout), "No nodes yet.\n");

    let again = management(&["init", dir.arg()], None);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("exists already"),
        "{}",
        text(&again.stderr)
    );
}

#[test]
fn adduser_takes_the_environment_a_file_or_a_key_and_stores_no_password() {
    let dir = init("mgmt-adduser");
    let output = management(&["adduser", dir.arg(), "alice"], Some("s3cret-from-env"));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("Owner 'alice' added."));

    let file = dir.path.join("bob.password");
    fs::write(&file, "s3cret-from-file\n").unwrap();
    let output = management(
        &[
            "adduser",
            dir.arg(),
            "bob",
            "--password-file",
            file.to_str().unwrap(),
        ],
        None,
    );
    assert!(output.status.success(), "{}", text(&output.stderr));

    let public = hex_public_key();
    let output = management(&["adduser", dir.arg(), "carol", "--pubkey", &public], None);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let output = management(&["adduser", dir.arg(), "dave", "--pubkey", "6a6a6a"], None);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("64 hex digits"),
        "{}",
        text(&output.stderr)
    );

    let output = management(&["users", dir.arg()], None);
    let listing = text(&output.stdout);
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 3, "{listing}");
    assert!(
        lines[0].starts_with("alice  password  added 20"),
        "{listing}"
    );
    assert!(lines[1].starts_with("bob  password  added "), "{listing}");
    assert!(
        lines[2].starts_with(&format!("carol  ed25519 {public}  added ")),
        "{listing}"
    );

    let db = fs::read(dir.path.join("management.db")).unwrap();
    for secret in ["s3cret-from-env", "s3cret-from-file"] {
        assert!(
            !db.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} is stored in clear"
        );
    }
    assert!(db.windows(9).any(|w| w == b"$argon2id"), "argon2id hashes");
}

/// A real Ed25519 public key: the one in a fresh node directory's key.pub.
fn hex_public_key() -> String {
    let node = Scratch::new("mgmt-key");
    assert!(run(&["init", node.arg()]).status.success());
    fs::read_to_string(node.path.join("key.pub"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("public-key-ed25519: "))
        .unwrap()
        .to_owned()
}

#[test]
fn adduser_refuses_what_it_cannot_use() {
    let dir = init("mgmt-refuse");
    let output = management(&["adduser", dir.arg(), "alice"], None);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr),
        "ringbar: no password: stdin is not a terminal; give --password-file FILE or set RINGBAR_PASSWORD\n"
    );
    let output = management(&["adduser", dir.arg(), "al ice"], Some("pw"));
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("\"al ice\" is not an owner name"));
    assert!(
        management(&["adduser", dir.arg(), "alice"], Some("pw"))
            .status
            .success()
    );
    let output = management(&["adduser", dir.arg(), "alice"], Some("pw2"));
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr),
        "ringbar: owner 'alice' exists already (choose another name)\n"
    );
    let elsewhere = Scratch::new("mgmt-none");
    let output = management(&["adduser", elsewhere.arg(), "alice"], Some("pw"));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr)
            .contains("management.db does not exist: this is not a management directory"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn start_runs_the_management_router_and_stop_ends_it() {
    let dir = init("mgmt-start");
    assert!(
        management(&["adduser", dir.arg(), "alice"], Some("pw"))
            .status
            .success()
    );
    // A free port instead of 9000, which another program may hold.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let path = dir.path.join("config.json");
    let config = fs::read_to_string(&path)
        .unwrap()
        .replace("\"port\": 9000", &format!("\"port\": {port}"))
        .replace(
            "\"version\": 2,",
            "\"version\": 2, \"ringbar\": {\"cores\": 1},",
        );
    fs::write(&path, config).unwrap();

    let mut child = ringbar()
        .args(["management", "start", dir.arg(), "--io", "epoll"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        wait_for_file(&dir.path.join("node.pid"), &mut child, STARTUP),
        "no node.pid: {}",
        support::stderr_of(child)
    );
    std::net::TcpStream::connect(("127.0.0.1", port)).expect("the management port listens");

    let output = management(&["adduser", dir.arg(), "bob"], Some("pw"));
    assert_eq!(
        output.status.code(),
        Some(1),
        "the running service holds the database"
    );
    assert!(
        text(&output.stderr).contains("stop the management service first"),
        "{}",
        text(&output.stderr)
    );

    let output = run(&["stop", dir.arg()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let status = wait_exit(&mut child, Duration::from_secs(20));
    let stderr = support::stderr_of(child);
    assert_eq!(status.code(), Some(0), "{stderr}");
    let loaded = format!(
        "Management state loaded from {}/management.db: 1 owner, 0 nodes.",
        dir.arg()
    );
    for line in [
        loaded.as_str(),
        "Instance key loaded.",
        "Starting routing service.",
        &format!("Starting Web transport on port {port}."),
        &format!("Management console at http://127.0.0.1:{port}/."),
        "Instance started.",
        "Node stopped.",
    ] {
        assert!(stderr.contains(line), "{line:?} missing in:\n{stderr}");
    }
    // The state is there after the service stopped.
    let output = management(&["users", dir.arg()], None);
    assert!(text(&output.stdout).starts_with("alice  password"));
}
