//! The config that `ringbar init` writes: Crossbar.io's `crossbar init`
//! template, minus what ringbar does not serve (the static `/` page and
//! the WebSocket options it would only warn about), bound to 127.0.0.1,
//! with ringbar's metrics endpoint.

/// The default `config.json`: realm `realm1` whose anonymous role may do
/// everything; WAMP over WebSocket on ws://127.0.0.1:8080/ws (node info on
/// /info) and over RawSocket on 127.0.0.1:8081, each with JSON, MessagePack
/// and CBOR; the Prometheus metrics on http://127.0.0.1:8082/metrics.
pub(crate) const DEFAULT_CONFIG_JSON: &str = r#"{
    "$schema": "https://raw.githubusercontent.com/crossbario/crossbar/master/crossbar.json",
    "version": 2,
    "controller": {
    },
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
                                    "allow": {
                                        "call": true,
                                        "register": true,
                                        "publish": true,
                                        "subscribe": true
                                    },
                                    "disclose": {
                                        "caller": false,
                                        "publisher": false
                                    },
                                    "cache": true
                                }
                            ]
                        }
                    ]
                }
            ],
            "transports": [
                {
                    "type": "web",
                    "endpoint": {
                        "type": "tcp",
                        "interface": "127.0.0.1",
                        "port": 8080,
                        "backlog": 1024
                    },
                    "paths": {
                        "ws": {
                            "type": "websocket",
                            "serializers": ["json", "msgpack", "cbor"]
                        },
                        "info": {
                            "type": "nodeinfo"
                        }
                    }
                },
                {
                    "type": "rawsocket",
                    "endpoint": {
                        "type": "tcp",
                        "interface": "127.0.0.1",
                        "port": 8081,
                        "backlog": 1024
                    },
                    "serializers": ["json", "msgpack", "cbor"]
                }
            ]
        }
    ],
    "ringbar": {
        "metrics": {
            "endpoint": {
                "type": "tcp",
                "interface": "127.0.0.1",
                "port": 8082
            },
            "path": "/metrics"
        }
    }
}
"#;
