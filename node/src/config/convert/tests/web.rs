//! Web transports: options, every path service, nested paths, and the
//! universal transport.

use ringbar_engine::config::{TransportKind, WebService, WebTransport};
use serde_json::{Value, json};

use super::*;

fn web_of(transport: Value) -> WebTransport {
    let config = valid(super::transport(transport));
    match config.transports.into_iter().next().map(|t| t.kind) {
        Some(TransportKind::Web(web)) => web,
        other => panic!("not web: {other:?}"),
    }
}

#[test]
fn web_options_and_every_service() {
    let web = web_of(json!({
        "type": "web",
        "endpoint": tcp(8080),
        "options": {"client_timeout": 30, "hsts": true, "access_log": true},
        "paths": {
            "/": {"type": "static", "directory": "web", "options": {
                "enable_directory_listing": true,
                "mime_types": {".MD": "text/markdown"},
                "cache_timeout": null,
                "default_file": "index.html"
            }},
            "info": {"type": "json", "value": {"a": [1, 2]}, "options": {"discourage_caching": true}},
            "old": {"type": "redirect", "url": "https://example.com/new"},
            "api": {"type": "path", "paths": {
                "v1": {"type": "json", "value": "v1"},
                "/": {"type": "nodeinfo"}
            }}
        }
    }));
    assert_eq!(web.options.client_timeout_ms, 30_000);
    assert_eq!(web.options.hsts_max_age_s, Some(31_536_000));
    assert!(web.options.access_log);
    let names: Vec<&str> = web.paths.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["/", "api", "info", "old"]);
    let WebService::Static(files) = &web.paths[0].1 else {
        panic!("not static")
    };
    assert!(files.enable_directory_listing);
    assert_eq!(
        files.mime_types.get(".md").map(String::as_str),
        Some("text/markdown")
    );
    assert_eq!(files.cache_timeout_s, None);
    assert_eq!(files.default_file, Some("index.html".into()));
    let WebService::Path(nested) = &web.paths[1].1 else {
        panic!("not path")
    };
    assert!(matches!(nested[0].1, WebService::NodeInfo));
    let WebService::Json(json) = &web.paths[2].1 else {
        panic!("not json")
    };
    assert_eq!(&json.document[..], br#"{"a":[1,2]}"#);
    assert!(json.allow_cross_origin && json.discourage_caching);
    assert!(
        matches!(&web.paths[3].1, WebService::Redirect { url } if url == "https://example.com/new")
    );
}

#[test]
fn a_static_service_caches_for_12_hours_by_default() {
    let web = web_of(json!({"type": "web", "endpoint": tcp(8080), "paths": {
        "/": {"type": "static", "directory": "web"}
    }}));
    let WebService::Static(files) = &web.paths[0].1 else {
        panic!("not static")
    };
    assert_eq!(files.cache_timeout_s, Some(43_200));
    assert!(!files.enable_directory_listing);
}

#[test]
fn bad_web_values_name_their_path() {
    let outcome = super::transport(json!({
        "type": "web",
        "endpoint": tcp(8080),
        "options": {"client_timeout": 0},
        "paths": {
            "/": {"type": "static", "directory": "web", "options": {
                "mime_types": {"md": "text/markdown", ".x": "a\nb"},
                "cache_timeout": -1,
                "default_file": "../secret"
            }},
            "go": {"type": "redirect", "url": "http://x/\r\nSet-Cookie: a"},
            "deep": {"type": "path", "paths": {"a/b": {"type": "nodeinfo"}, "c": {"type": "wsgi"}}},
            "j": {"type": "json"}
        }
    }));
    let p = "config.json: workers[0].transports[0]";
    assert_eq!(
        errors_of(&outcome),
        [
            format!("{p}.options.client_timeout: 0 is not a client timeout (1-86400 seconds)"),
            format!(
                "{p}.paths.\"/\".options.cache_timeout: -1 is not a cache timeout (0 or more seconds, or null)"
            ),
            format!(
                "{p}.paths.deep.paths.\"a/b\": \"a/b\" is not a web path (\"/\", or one segment of letters, digits, _ and -)"
            ),
            format!(
                "{p}.paths.deep.paths.c.type: \"wsgi\" is not supported yet (websocket, static, nodeinfo, json, redirect, path, publisher, caller, webhook)"
            ),
            format!(
                "{p}.paths.go.url: \"http://x/\\r\\nSet-Cookie: a\" is not a URL (printable ASCII, no control characters)"
            ),
            format!("{p}.paths.j: missing field `value`"),
        ]
    );
}

#[test]
fn a_universal_transport_puts_websocket_paths_first() {
    let outcome = super::transport(json!({
        "type": "universal",
        "endpoint": tcp(8080),
        "rawsocket": {"serializers": ["cbor"]},
        "websocket": {"ws": {"type": "websocket", "serializers": ["json"]}},
        "web": {"paths": {
            "/": {"type": "static", "directory": "web"},
            "ws": {"type": "nodeinfo"}
        }}
    }));
    let shadowed = "config.json: workers[0].transports[0].web.paths.ws: never reached: the websocket path \"ws\" answers it";
    assert!(
        outcome.warnings.iter().any(|w| w == shadowed),
        "{:?}",
        outcome.warnings
    );
    let config = valid(outcome);
    let TransportKind::Universal(universal) = &config.transports[0].kind else {
        panic!("not universal")
    };
    assert!(universal.rawsocket.is_some());
    let names: Vec<&str> = universal
        .web
        .paths
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(names, ["ws", "/"]);
    assert!(matches!(universal.web.paths[0].1, WebService::WebSocket(_)));
}

#[test]
fn a_universal_transport_checks_its_parts() {
    let outcome = super::transport(json!({
        "type": "universal",
        "endpoint": tcp(8080),
        "rawsocket": {"endpoint": tcp(8081)},
        "websocket": {"a b": {"type": "websocket"}},
        "web": {"endpoint": tcp(8082), "paths": {}},
        "mqtt": {}
    }));
    let p = "config.json: workers[0].transports[0]";
    assert_eq!(
        errors_of(&outcome),
        [
            format!(
                "{p}.mqtt: MQTT is not supported yet: remove \"mqtt\" from the universal transport"
            ),
            format!(
                "{p}.rawsocket.endpoint: not allowed here: the universal transport's own endpoint serves it"
            ),
            format!(
                "{p}.websocket.\"a b\": \"a b\" is not a web path (\"/\", or one segment of letters, digits, _ and -)"
            ),
            format!(
                "{p}.web.endpoint: not allowed here: the universal transport's own endpoint serves it"
            ),
        ]
    );
}
