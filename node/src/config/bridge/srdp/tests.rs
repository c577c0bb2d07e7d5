//! Reading `srdp-bridge` workers: the bridge with its EDS folder loaded,
//! joined over the worker socket or to a remote router, and the errors
//! with their paths.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};

use ringbar_bridges::config::{BridgeWorker, ComponentKind, SrdpTransport};
use ringbar_client::{Credentials, UrlTransport};
use serde_json::{Value, json};

use crate::config::{LoadError, Overrides, load_json};

/// A node directory of its own for `name`, with an EDS folder `eds`.
fn node(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("ringbar-srdp-config-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("eds")).unwrap();
    std::fs::write(
        dir.join("eds/board.json"),
        r#"{"uri": "urn:board", "registers": [
            {"index": 1, "path": "/system/id", "access": "read", "type": "uint8", "count": 16},
            {"index": 1024, "path": "/light", "access": "write", "type": "uint8"}]}"#,
    )
    .unwrap();
    dir
}

fn load(dir: &Path, worker: Value) -> Result<Vec<BridgeWorker>, Vec<String>> {
    let router = json!({
        "type": "router",
        "realms": [{"name": "realm1", "roles": [{"name": "anonymous", "permissions": []}]}],
        "transports": [{"type": "websocket", "endpoint": {"type": "tcp", "port": 8080}}]
    });
    let text = json!({"version": 2, "workers": [router, worker]}).to_string();
    match load_json(dir, dir.join("config.json"), &text, Overrides::default()) {
        Ok(loaded) => Ok(loaded.bridges),
        Err(LoadError::Invalid { errors, .. }) => {
            Err(errors.iter().map(ToString::to_string).collect())
        }
        Err(other) => panic!("{other}"),
    }
}

fn bridge(transport: Value) -> Value {
    json!({
        "type": "srdp-bridge", "id": "lab",
        "router": {"realm": "realm1"},
        "transport": transport,
        "eds": "eds",
        "prefix": "com.example.lab",
        "devices": {"1": "adapter", "2": "board"}
    })
}

#[test]
fn a_serial_bridge_joins_this_router_with_its_eds_loaded() {
    let dir = node("serial");
    let workers = load(&dir, bridge(json!({"type": "serial", "port": "tty"}))).unwrap();
    let component = &workers[0].components[0];
    assert_eq!(
        (workers[0].id.as_str(), component.realm.as_str()),
        ("lab", "realm1")
    );
    assert_eq!(component.router.transport, UrlTransport::RawSocketUnix);
    assert!(
        matches!(&component.credentials, Credentials::Ticket { authid, .. } if authid == "ringbar-bridge:lab:0")
    );
    let ComponentKind::Srdp(srdp) = &component.kind else {
        panic!()
    };
    assert_eq!(
        srdp.transport,
        SrdpTransport::Serial {
            port: std::path::absolute(&dir).unwrap().join("tty"),
            baudrate: 115_200
        }
    );
    assert!(srdp.eds.get("urn:board").is_some());
    assert_eq!(srdp.devices[&2], "board");
    assert_eq!((srdp.timeout.as_millis(), srdp.max_frame_data), (1000, 69));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_udp_bridge_may_join_a_remote_router_with_a_ticket() {
    let dir = node("udp");
    let mut worker = bridge(json!({"type": "udp", "host": "127.0.0.1"}));
    worker["router"] = json!({"realm": "lab", "url": "ws://10.1.2.3:8080/ws", "authid": "srdp", "ticket": "s3cret"});
    let workers = load(&dir, worker).unwrap();
    let component = &workers[0].components[0];
    assert_eq!(component.router.host, "10.1.2.3");
    assert!(
        matches!(&component.credentials, Credentials::Ticket { authid, .. } if authid == "srdp")
    );
    let ComponentKind::Srdp(srdp) = &component.kind else {
        panic!()
    };
    assert_eq!(
        srdp.transport,
        SrdpTransport::Udp {
            host: "127.0.0.1".into(),
            port: 1910
        }
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn mistakes_are_errors_with_their_paths() {
    let dir = node("errors");
    std::fs::write(dir.join("eds/bad.json"), r#"{"uri": "urn:bad", "registers": [{"index": 1, "path": "/x", "access": "read", "type": "uint9"}]}"#).unwrap();
    let mut worker = bridge(json!({"type": "rs232", "port": "tty"}));
    worker["devices"] = json!({"0": "zero", "2": "a.b", "3": "4"});
    worker["prefix"] = json!("com..lab");
    worker["timeout_ms"] = json!(0);
    worker["router"] = json!({"realm": "nowhere"});
    let errors = load(&dir, worker).unwrap_err().join("\n");
    for expected in [
        "workers[1].transport.type: \"rs232\" is not an SRDP transport type (serial, udp)",
        "workers[1].eds: ",
        "bad.json: registers[0].type: \"uint9\" is not a scalar type",
        "workers[1].prefix: \"com..lab\" is not a valid prefix URI",
        "workers[1].devices.0: \"0\" is not a device index (1-4095)",
        "workers[1].devices.2: \"a.b\" is not one URI component",
        "workers[1].devices.3: \"4\" is how device 4 is named",
        "workers[1].timeout_ms: 0 is out of range (1-60000 milliseconds)",
        "workers[1].router.realm: realm \"nowhere\" is not defined in this node's router",
    ] {
        assert!(errors.contains(expected), "{expected}\nnot in\n{errors}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}
