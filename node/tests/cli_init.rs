//! `ringbar init DIR`.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use support::{Scratch, run, text};

fn mode(path: &std::path::Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn init_writes_a_config_that_check_accepts_and_a_key_pair() {
    let dir = Scratch::new("init");
    let output = run(&["init", dir.arg()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!("Node directory {} initialised.", dir.arg())),
        "{stderr}"
    );
    assert!(stderr.contains("Instance key generated."), "{stderr}");

    let config = fs::read_to_string(dir.path.join("config.json")).unwrap();
    let value: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(value["version"], 2);
    assert_eq!(value["workers"][0]["realms"][0]["name"], "realm1");
    assert_eq!(
        value["workers"][0]["transports"][0]["paths"]["ws"]["type"],
        "websocket"
    );

    assert_eq!(mode(&dir.path.join("key.priv")), 0o600);
    assert_eq!(mode(&dir.path.join("key.pub")), 0o644);
    let public = fs::read_to_string(dir.path.join("key.pub")).unwrap();
    let private = fs::read_to_string(dir.path.join("key.priv")).unwrap();
    let public_key = public
        .lines()
        .find_map(|l| l.strip_prefix("public-key-ed25519: "))
        .expect("a public key tag");
    assert_eq!(public_key.len(), 64);
    assert!(public_key.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(private.contains(&format!("public-key-ed25519: {public_key}\n")));
    let private_key = private
        .lines()
        .find_map(|l| l.strip_prefix("private-key-ed25519: "))
        .expect("a private key tag");
    assert_eq!(private_key.len(), 64);
    assert!(!public.contains("private-key"));
    for tag in ["creator: ", "created-at: ", "machine-id: "] {
        assert!(public.contains(tag), "{tag} missing in {public}");
    }

    let output = run(&["check", dir.arg()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stderr),
        "",
        "the default config warns about nothing"
    );
    assert!(text(&output.stdout).contains("is valid: 1 realm, 2 transports."));
}

#[test]
fn init_refuses_to_overwrite_a_config() {
    let dir = Scratch::new("init-twice").with_config("{\"version\": 2}");
    let output = run(&["init", dir.arg()]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr),
        format!(
            "ringbar: cannot initialise {0}: {0}/config.json exists already; ringbar init does not overwrite it (use another directory, or move the file away)\n",
            dir.arg()
        )
    );
    assert_eq!(
        fs::read_to_string(dir.path.join("config.json")).unwrap(),
        "{\"version\": 2}"
    );
    assert!(!dir.path.join("key.priv").exists());
}

#[test]
fn init_keeps_an_existing_key() {
    let dir = Scratch::new("init-key");
    assert!(run(&["init", dir.arg()]).status.success());
    let private = fs::read_to_string(dir.path.join("key.priv")).unwrap();
    fs::remove_file(dir.path.join("config.json")).unwrap();
    let output = run(&["init", dir.arg()]);
    assert!(output.status.success());
    assert!(text(&output.stderr).contains("Instance key loaded."));
    assert_eq!(
        fs::read_to_string(dir.path.join("key.priv")).unwrap(),
        private
    );
}

#[test]
fn init_with_management_writes_the_uplink_that_check_accepts() {
    let dir = Scratch::new("init-uplink");
    let output = run(&["init", dir.arg(), "--management", "ws://127.0.0.1:9000/ws"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let config = fs::read_to_string(dir.path.join("config.json")).unwrap();
    let value: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(
        value["ringbar"]["management"]["url"],
        "ws://127.0.0.1:9000/ws"
    );
    let output = run(&["check", dir.arg()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stderr), "", "no warning for the uplink");
}

#[test]
fn init_refuses_a_management_url_that_is_not_websocket() {
    let dir = Scratch::new("init-bad-uplink");
    let output = run(&["init", dir.arg(), "--management", "http://127.0.0.1:9000"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("\"http://127.0.0.1:9000\": expected a ws:// or wss:// URL"),
        "{stderr}"
    );
    assert!(!dir.path.exists(), "nothing is written");
}

#[test]
fn check_names_a_bad_uplink_by_its_path() {
    let dir = Scratch::new("check-bad-uplink");
    assert!(run(&["init", dir.arg()]).status.success());
    let path = dir.path.join("config.json");
    let mut value: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    value["ringbar"] = serde_json::json!({"management": {"url": "ws://:9000/ws"}});
    fs::write(&path, value.to_string()).unwrap();
    let output = run(&["check", dir.arg()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(
            "error: config.json: ringbar.management.url: \"ws://:9000/ws\": the URL has no host"
        ),
        "{stderr}"
    );
}

#[test]
fn init_pins_a_given_management_key_and_names_the_ca_file() {
    let dir = Scratch::new("init-pinned");
    let ca = std::env::temp_dir().join(format!("ringbar-init-ca-{}.pem", std::process::id()));
    fs::write(&ca, "a CA file").unwrap();
    let key = "ab".repeat(32);
    let url = "wss://manage.example.com/ws";
    let args = ["--management", url, "--management-key", &key];
    let output = run(&[
        &["init", dir.arg()][..],
        &args,
        &["--management-ca", ca.to_str().unwrap()],
    ]
    .concat());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let pinned = fs::read_to_string(dir.path.join("management-key.pub")).unwrap();
    assert!(
        pinned.contains(&format!("public-key-ed25519: {key}\n")),
        "{pinned}"
    );
    let config = fs::read_to_string(dir.path.join("config.json")).unwrap();
    let value: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(value["ringbar"]["management"]["url"], url);
    assert_eq!(
        value["ringbar"]["management"]["ca_certificates"],
        serde_json::json!([ca.canonicalize().unwrap()])
    );
    assert_eq!(run(&["check", dir.arg()]).status.code(), Some(0));
    // once the CA file is gone, check names it by its path
    fs::remove_file(&ca).unwrap();
    let output = run(&["check", dir.arg()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("config.json: ringbar.management.ca_certificates[0]: "),
        "{stderr}"
    );

    // a key needs an uplink, and must be a key
    let other = Scratch::new("init-bad-key");
    let without = run(&["init", other.arg(), "--management-key", &key]);
    assert_eq!(without.status.code(), Some(2), "{}", text(&without.stderr));
    let bad = run(&[
        "init",
        other.arg(),
        "--management",
        url,
        "--management-key",
        "12",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("is not an Ed25519 public key"),
        "{}",
        text(&bad.stderr)
    );
    assert!(!other.path.exists(), "nothing is written");
}
