//! The config that `ringbar management init` writes: a ringbar router
//! with the management realm on its own port.

/// The management realm's name.
pub(crate) const MANAGEMENT_REALM: &str = "ringbar.management";

/// The default management `config.json`: realm `ringbar.management` with
/// the roles `owner` (people managing their nodes), `node` (paired nodes)
/// and `pairing` (nodes not yet paired), none of which may do anything
/// yet; WebSocket on ws://127.0.0.1:9000/ws. Sessions authenticate with
/// WAMP-cryptosign; no principal is listed: `ringbar management start`
/// finds them in its database (see `authenticator`).
pub(crate) const MANAGEMENT_CONFIG_JSON: &str = r#"{
    "version": 2,
    "workers": [
        {
            "type": "router",
            "realms": [
                {
                    "name": "ringbar.management",
                    "roles": [
                        {"name": "owner", "permissions": []},
                        {"name": "node", "permissions": []},
                        {"name": "pairing", "permissions": []}
                    ]
                }
            ],
            "transports": [
                {
                    "type": "websocket",
                    "endpoint": {
                        "type": "tcp",
                        "interface": "127.0.0.1",
                        "port": 9000
                    },
                    "serializers": ["json", "msgpack", "cbor"],
                    "auth": {
                        "cryptosign": {"type": "static", "principals": {}}
                    }
                }
            ]
        }
    ]
}
"#;
