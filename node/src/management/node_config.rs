//! The configuration a newly paired node gets: `DIR/node-config.json` of
//! the management directory (written by `ringbar management init`, edited
//! by the operator), checked with the node's own config reader before it
//! is sent.

use std::path::Path;

use crate::config::{self, Overrides};

/// The file in the management directory.
pub(crate) const NODE_CONFIG_FILE: &str = "node-config.json";

/// The default: a router with the realm `realm1` whose anonymous role may
/// do everything, WAMP over WebSocket on 127.0.0.1:8080 (any path) with
/// JSON, MessagePack and CBOR.
pub(crate) const DEFAULT_NODE_CONFIG_JSON: &str = r#"{
    "version": 2,
    "workers": [
        {
            "type": "router",
            "realms": [
                {
                    "name": "realm1",
                    "roles": [
                        {
                            "name": "anonymous",
                            "permissions": [
                                {
                                    "uri": "",
                                    "match": "prefix",
                                    "allow": {"call": true, "register": true, "publish": true, "subscribe": true},
                                    "disclose": {"caller": false, "publisher": false},
                                    "cache": true
                                }
                            ]
                        }
                    ]
                }
            ],
            "transports": [
                {
                    "type": "websocket",
                    "endpoint": {"type": "tcp", "interface": "127.0.0.1", "port": 8080},
                    "serializers": ["json", "msgpack", "cbor"]
                }
            ]
        }
    ]
}
"#;

/// The config for newly paired nodes, checked.
pub(crate) fn read(dir: &Path) -> Result<serde_json::Value, String> {
    let path = dir.join(NODE_CONFIG_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            DEFAULT_NODE_CONFIG_JSON.to_owned()
        }
        Err(error) => return Err(format!("cannot read {}: {error}", path.display())),
    };
    check(dir, &text).map_err(|e| format!("{}: {e}", path.display()))
}

/// `text` as a JSON value when it is a valid node config; else every
/// error, one per line.
pub(crate) fn check(dir: &Path, text: &str) -> Result<serde_json::Value, String> {
    config::load_json(dir, dir.join(NODE_CONFIG_FILE), text, Overrides::default())
        .map_err(|e| e.to_string())?;
    serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))
}
