//! The config that `ringbar management init` writes: a ringbar router
//! with the management realm on its own port.

/// The management realm's name.
pub(crate) const MANAGEMENT_REALM: &str = "ringbar.management";

/// The default management `config.json`: realm `ringbar.management` with
/// the roles `owner` (people managing their nodes), `node` (paired nodes),
/// `pairing` (nodes not yet paired) and `service` (the service's own
/// backend session, which registers every procedure), each allowed only
/// its part of the API; a web transport on 127.0.0.1:9000 with WAMP over
/// WebSocket at `/ws` (`ringbar management start` mounts the console at
/// `/`, and lets browsers open `/ws` only from its origin). Sessions
/// authenticate with WAMP-cryptosign or (owners with a password)
/// WAMP-ticket; no principal is listed: `ringbar management start` finds
/// them in its database (see `authenticator`).
pub(crate) const MANAGEMENT_CONFIG_JSON: &str = r#"{
    "version": 2,
    "workers": [
        {
            "type": "router",
            "realms": [
                {
                    "name": "ringbar.management",
                    "roles": [
                        {"name": "owner", "permissions": [
                            {"uri": "ringbar.management.owner.", "match": "prefix", "allow": {"call": true, "subscribe": true}}
                        ]},
                        {"name": "node", "permissions": [
                            {"uri": "ringbar.management.node.", "match": "prefix", "allow": {"call": true, "subscribe": true}}
                        ]},
                        {"name": "pairing", "permissions": [
                            {"uri": "ringbar.management.pairing.", "match": "prefix", "allow": {"call": true, "subscribe": true}}
                        ]},
                        {"name": "service", "permissions": [
                            {"uri": "ringbar.management.", "match": "prefix", "allow": {"register": true, "publish": true}}
                        ]}
                    ]
                }
            ],
            "transports": [
                {
                    "type": "web",
                    "endpoint": {
                        "type": "tcp",
                        "interface": "127.0.0.1",
                        "port": 9000
                    },
                    "paths": {
                        "ws": {
                            "type": "websocket",
                            "serializers": ["json", "msgpack", "cbor"],
                            "auth": {
                                "cryptosign": {"type": "static", "principals": {}},
                                "ticket": {"type": "static", "principals": {}}
                            }
                        }
                    }
                }
            ]
        }
    ]
}
"#;
