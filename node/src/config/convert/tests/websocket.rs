//! Serializers, WebSocket options, RawSocket limits, auth, web paths, testees.

use ringbar_engine::config::{TransportKind, WebSocketOptions};
use ringbar_protocol::codec::Serializer;
use ringbar_protocol::websocket::OriginPolicy;
use ringbar_protocol::websocket::deflate::DeflateConfig;
use serde_json::{Value, json};

use super::*;

#[test]
fn serializers() {
    let t = "config.json: workers[0].transports[0].serializers";
    let outcome = transport(json!({"type": "rawsocket", "endpoint": tcp(1),
        "serializers": ["json", "json", "flatbuffers", "avro"]}));
    assert_eq!(
        errors_of(&outcome),
        [
            format!("{t}[2]: \"flatbuffers\" is not supported (json, msgpack, cbor, ubjson)"),
            format!("{t}[3]: \"avro\" is not supported (json, msgpack, cbor, ubjson)"),
        ]
    );
    let outcome = transport(json!({"type": "rawsocket", "endpoint": tcp(1), "serializers": []}));
    assert_eq!(
        errors_of(&outcome),
        [format!(
            "{t}: no serializers: list at least one of json, msgpack, cbor, ubjson"
        )]
    );
    let config = valid(transport(json!({"type": "rawsocket", "endpoint": tcp(1),
        "serializers": ["cbor", "cbor", "ubjson", "json"]})));
    let TransportKind::RawSocket(raw) = &config.transports[0].kind else {
        panic!("not rawsocket")
    };
    assert_eq!(
        raw.serializers,
        [Serializer::Cbor, Serializer::Ubjson, Serializer::Json]
    );
    let config = valid(transport(json!({"type": "rawsocket", "endpoint": tcp(1)})));
    let TransportKind::RawSocket(raw) = &config.transports[0].kind else {
        panic!("not rawsocket")
    };
    assert_eq!(raw.serializers, Serializer::ALL);
}

#[test]
fn websocket_options() {
    let outcome = transport(json!({"type": "websocket", "endpoint": tcp(1), "options": {
        "max_frame_size": 0, "open_handshake_timeout": 0, "auto_ping_interval": 30000,
        "require_websocket_subprotocol": false, "tcp_nodelay": true
    }}));
    let o = "config.json: workers[0].transports[0].options";
    assert_eq!(
        outcome.warnings,
        [
            format!("{o}.tcp_nodelay: Crossbar.io option not used by ringbar, ignored"),
            format!("{o}.max_frame_size: 0 (no limit) is not allowed; using 67108864 bytes"),
        ]
    );
    let config = valid(outcome);
    let TransportKind::WebSocket(ws) = &config.transports[0].kind else {
        panic!("not websocket")
    };
    assert_eq!(
        ws.options,
        WebSocketOptions {
            max_frame_bytes: 64 << 20,
            open_handshake_timeout_ms: 0,
            auto_ping_interval_ms: 30_000,
            require_subprotocol: false,
            ..WebSocketOptions::default()
        }
    );
}

#[test]
fn websocket_deflate() {
    let config = valid(transport(
        json!({"type": "websocket", "endpoint": tcp(1), "options": {
            "compression": {"deflate": {"request_no_context_takeover": true,
                "request_max_window_bits": 11, "no_context_takeover": true,
                "max_window_bits": 12, "memory_level": 9}}
        }}),
    ));
    let TransportKind::WebSocket(ws) = &config.transports[0].kind else {
        panic!("not websocket")
    };
    assert_eq!(
        ws.options.deflate,
        Some(DeflateConfig {
            request_no_context_takeover: true,
            request_max_window_bits: 11,
            no_context_takeover: true,
            max_window_bits: 12,
            memory_level: 9,
        })
    );
    // An empty block enables compression with Autobahn's defaults; no
    // `deflate` key enables nothing.
    for (compression, expected) in [
        (json!({"deflate": {}}), Some(DeflateConfig::default())),
        (json!({}), None),
    ] {
        let config = valid(transport(json!({"type": "websocket", "endpoint": tcp(1),
            "options": {"compression": compression}})));
        let TransportKind::WebSocket(ws) = &config.transports[0].kind else {
            panic!("not websocket")
        };
        assert_eq!(ws.options.deflate, expected);
    }
}

#[test]
fn websocket_deflate_errors() {
    let outcome = transport(json!({"type": "websocket", "endpoint": tcp(1), "options": {
        "compression": {"deflate": {"request_max_window_bits": 8, "max_window_bits": 16,
            "memory_level": 0, "no_context_takeover": "yes"}}
    }}));
    let d = "config.json: workers[0].transports[0].options.compression.deflate";
    assert_eq!(errors_of(&outcome).len(), 1, "{:?}", errors_of(&outcome));
    assert!(errors_of(&outcome)[0].starts_with(&format!("{d}.no_context_takeover: ")));
    let outcome = transport(json!({"type": "websocket", "endpoint": tcp(1), "options": {
        "compression": {"deflate": {"request_max_window_bits": 8, "max_window_bits": 16,
            "memory_level": 0}}
    }}));
    assert_eq!(
        errors_of(&outcome),
        [
            format!("{d}.request_max_window_bits: 8 is not a window size (0, or 9-15 bits)"),
            format!("{d}.max_window_bits: 16 is not a window size (9-15 bits)"),
            format!("{d}.memory_level: 0 is not a memory level (1-9)"),
        ]
    );
}

#[test]
fn websocket_option_errors() {
    let outcome = transport(json!({"type": "websocket", "endpoint": tcp(1), "options": {
        "max_frame_size": -1, "max_message_size": 0, "open_handshake_timeout": 500,
        "close_handshake_timeout": -1, "auto_ping_size": 200, "auto_ping_timeout": 999
    }}));
    let o = "config.json: workers[0].transports[0].options";
    assert_eq!(
        errors_of(&outcome),
        [
            format!("{o}.max_frame_size: -1 is not a frame size (at least 1 byte)"),
            format!("{o}.max_message_size: 0 is not a message size (1-67108864 bytes)"),
            format!(
                "{o}.open_handshake_timeout: 500 is in milliseconds and too small (0, or at least 1000)"
            ),
            format!("{o}.close_handshake_timeout: -1 is not a duration (0, or at least 1000 ms)"),
            format!(
                "{o}.auto_ping_timeout: 999 is in milliseconds and too small (0, or at least 1000)"
            ),
            format!("{o}.auto_ping_size: 200 is not a ping size (4-125 bytes)"),
        ]
    );
}

#[test]
fn rawsocket_message_size() {
    let size_of = |transport_value: Value| -> usize {
        let config = valid(transport(transport_value));
        let TransportKind::RawSocket(raw) = &config.transports[0].kind else {
            panic!("not rawsocket")
        };
        raw.max_message_bytes
    };
    assert_eq!(
        size_of(json!({"type": "rawsocket", "endpoint": tcp(1), "max_message_size": 4096})),
        4096
    );
    assert_eq!(
        size_of(
            json!({"type": "rawsocket", "endpoint": tcp(1), "options": {"max_message_size": 8192}})
        ),
        8192
    );
    let outcome = transport(json!({"type": "rawsocket", "endpoint": tcp(1),
        "options": {"max_message_size": 100_000_000}}));
    assert_eq!(
        errors_of(&outcome),
        [
            "config.json: workers[0].transports[0].options.max_message_size: 100000000 is not a message size (1-67108864 bytes)"
        ]
    );
}

#[test]
fn web_paths() {
    let w = "config.json: workers[0].transports[0]";
    let outcome = transport(json!({"type": "web", "endpoint": tcp(8080),
        "options": {"display_tracebacks": true, "hsts": false},
        "paths": {
            "a/b": {"type": "nodeinfo"},
            "py": {"type": "static", "package": "mypkg", "resource": "web"},
            "none": {"type": "static"},
            "ws": {"type": "websocket", "endpoint": tcp(1), "cookie": {}},
            "x": {"type": "wsgi", "module": "app"}
        }
    }));
    assert_eq!(
        errors_of(&outcome),
        [
            format!(
                "{w}.paths.\"a/b\": \"a/b\" is not a web path (\"/\", or one segment of letters, digits, _ and -)"
            ),
            format!(
                "{w}.paths.none: missing \"directory\": the folder to serve, relative to the node directory"
            ),
            format!(
                "{w}.paths.py: serving files from a Python package (\"package\", \"resource\") is not supported: give a \"directory\""
            ),
            format!(
                "{w}.paths.x.type: \"wsgi\" is not supported yet (websocket, static, nodeinfo, json, redirect, path, publisher, caller, webhook)"
            ),
        ]
    );
    assert_eq!(
        outcome.warnings,
        [
            format!("{w}.options.display_tracebacks: web option not used by ringbar, ignored"),
            format!(
                "{w}.paths.ws.endpoint: unknown key, ignored (a path service listens on its transport's endpoint)"
            ),
            format!("{w}.paths.ws.cookie: cookie tracking is not supported yet; ignored"),
        ]
    );
    let outcome = transport(json!({"type": "web", "endpoint": tcp(8080)}));
    assert_eq!(errors_of(&outcome), [format!("{w}: missing field `paths`")]);
}

#[test]
fn testee_transports_and_workers() {
    let config = valid(run(&json!({"version": 2, "workers": [
        {"type": "websocket-testee", "id": "testee", "options": {},
         "transport": {"type": "websocket", "endpoint": tcp(9001), "options": {"max_message_size": 65536}}},
        {"type": "router", "realms": realm1(), "transports": [
            {"type": "websocket.testee", "id": "echo", "endpoint": tcp(9002), "url": "ws://localhost:9002"}
        ]}
    ]})));
    let kinds: Vec<(&str, Option<usize>)> = config
        .transports
        .iter()
        .map(|t| match &t.kind {
            TransportKind::WebSocketTestee(options) => {
                (t.id.as_str(), Some(options.max_message_bytes))
            }
            _ => (t.id.as_str(), None),
        })
        .collect();
    assert_eq!(
        kinds,
        [("transport0", Some(65536)), ("echo", Some(16 << 20))]
    );
}

#[test]
fn origins() {
    let outcome = transport(json!({"type": "websocket", "endpoint": tcp(1), "options": {
        "allowed_origins": ["https://*.example.com", "http://localhost:*"],
        "allow_null_origin": false
    }}));
    let o = "config.json: workers[0].transports[0].options.allowed_origins";
    assert_eq!(
        outcome.warnings,
        [format!(
            "{o}[0]: \"https://*.example.com\" matches no origin: origins are matched as \
             scheme://host:port, with the port always present; add \":*\" or the port (as in Crossbar.io)"
        )]
    );
    let config = valid(outcome);
    let TransportKind::WebSocket(ws) = &config.transports[0].kind else {
        panic!("not websocket")
    };
    assert_eq!(ws.options.origins.allowed.len(), 2);
    assert!(!ws.options.origins.allow_null);
    assert!(ws.options.origins.check(None).is_ok());
    assert!(ws.options.origins.check(Some("null")).is_err());
    assert!(
        ws.options
            .origins
            .check(Some("http://localhost:3000"))
            .is_ok()
    );
    let config = valid(transport(json!({"type": "websocket", "endpoint": tcp(1)})));
    let TransportKind::WebSocket(ws) = &config.transports[0].kind else {
        panic!("not websocket")
    };
    assert_eq!(ws.options.origins, OriginPolicy::default());
}
