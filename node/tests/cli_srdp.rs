//! A paired node whose configuration from the management service holds an
//! `srdp-bridge` worker says so at start: "Configured as SRDP bridge."
//! beside "Configured as router." (the cached configuration is used while
//! the service is away).

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use serde_json::json;
use support::{
    Scratch, UNIX_CONFIG, free_port, signal, spawn, stderr_of, wait_exit, wait_for_file,
};

#[test]
fn a_managed_config_with_an_srdp_bridge_logs_its_instance_type() {
    let mut config: serde_json::Value = serde_json::from_str(UNIX_CONFIG).unwrap();
    config["ringbar"]["management"] = json!({"url": format!("ws://127.0.0.1:{}/ws", free_port())});
    let dir = Scratch::new("srdp").with_config(&config.to_string());
    std::fs::create_dir_all(dir.path.join("eds")).unwrap();
    std::fs::write(
        dir.path.join("eds/adapter.json"),
        r#"{"uri": "urn:adapter", "registers": [
            {"index": 1, "path": "/system/id", "access": "read", "type": "uint8", "count": 16}]}"#,
    )
    .unwrap();
    let mut managed: serde_json::Value = serde_json::from_str(UNIX_CONFIG).unwrap();
    managed["workers"].as_array_mut().unwrap().push(json!({
        "type": "srdp-bridge", "id": "lab",
        "router": {"realm": "realm1"},
        "transport": {"type": "udp", "host": "127.0.0.1", "port": free_port()},
        "eds": "eds", "prefix": "com.example.lab"
    }));
    std::fs::write(dir.path.join("managed-config.json"), managed.to_string()).unwrap();

    let mut node = spawn(&["start", dir.arg(), "--io", "epoll"]);
    assert!(wait_for_file(
        &dir.path.join("router.sock"),
        &mut node,
        Duration::from_secs(30)
    ));
    signal(&node, "TERM");
    assert!(wait_exit(&mut node, Duration::from_secs(15)).success());
    let log = stderr_of(node);
    assert!(log.contains("Configured as router.\n"), "{log}");
    assert!(log.contains("Configured as SRDP bridge.\n"), "{log}");
}
