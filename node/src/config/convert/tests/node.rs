//! The whole file: templates, versions, workers, error collection.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use ringbar_engine::config::{
    Allow, AuthConfig, Disclose, Endpoint, TransportKind, WebService, WebSocketOptions,
};
use ringbar_protocol::codec::Serializer;
use ringbar_protocol::uri::{MatchPolicy, UriCheck};
use ringbar_protocol::websocket::OriginPolicy;
use ringbar_protocol::websocket::deflate::DeflateConfig;
use serde_json::{Value, json};

use super::*;

#[test]
fn the_default_config_is_valid_and_silent() {
    let root: Value = serde_json::from_str(DEFAULT_CONFIG_JSON).unwrap();
    let outcome = run(&root);
    assert!(outcome.warnings.is_empty(), "{:#?}", outcome.warnings);
    let config = valid(outcome);

    assert_eq!(config.realms.len(), 1);
    let realm = &config.realms[0];
    assert_eq!(realm.name, "realm1");
    assert_eq!(realm.uri_check, UriCheck::Strict);
    assert_eq!(realm.roles.len(), 1);
    assert_eq!(realm.roles[0].name, "anonymous");
    let permission = &realm.roles[0].permissions[0];
    assert_eq!(permission.uri, "");
    assert_eq!(permission.match_policy, MatchPolicy::Prefix);
    assert_eq!(
        permission.allow,
        Allow {
            publish: true,
            subscribe: true,
            call: true,
            register: true,
            list: None,
        }
    );
    assert_eq!(permission.disclose, Disclose::default());
    assert!(permission.cache);

    let localhost = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(config.transports.len(), 2);
    let web = &config.transports[0];
    assert_eq!(web.id, "transport0");
    assert_eq!(
        web.endpoint,
        Endpoint::Tcp {
            interface: localhost,
            port: 8080,
            backlog: 1024,
            tls: None
        }
    );
    let TransportKind::Web(web) = &web.kind else {
        panic!("not web: {:?}", web.kind)
    };
    let paths: Vec<&str> = web.paths.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["info", "ws"]);
    assert!(matches!(web.paths[0].1, WebService::NodeInfo));
    let WebService::WebSocket(ws) = &web.paths[1].1 else {
        panic!("not websocket")
    };
    assert_eq!(
        ws.serializers,
        [Serializer::Json, Serializer::MsgPack, Serializer::Cbor]
    );
    assert_eq!(ws.options, WebSocketOptions::default());
    assert_eq!(ws.auth, AuthConfig::default().into());

    let raw = &config.transports[1];
    assert_eq!(raw.id, "transport1");
    assert_eq!(
        raw.endpoint,
        Endpoint::Tcp {
            interface: localhost,
            port: 8081,
            backlog: 1024,
            tls: None
        }
    );
    let TransportKind::RawSocket(raw) = &raw.kind else {
        panic!("not rawsocket")
    };
    assert_eq!(
        raw.serializers,
        [Serializer::Json, Serializer::MsgPack, Serializer::Cbor]
    );
    assert_eq!(raw.max_message_bytes, 16 << 20);
    assert_eq!(raw.auth, AuthConfig::default().into());
}

/// `crossbar init`'s own template: valid, with a warning for each thing
/// ringbar leaves out.
#[test]
fn crossbars_template_runs_with_warnings() {
    let root = json!({
        "$schema": "https://raw.githubusercontent.com/crossbario/crossbar/master/crossbar.json",
        "version": 2,
        "controller": {},
        "workers": [{
            "type": "router",
            "realms": realm1(),
            "transports": [
                {
                    "type": "rawsocket",
                    "endpoint": {"type": "tcp", "port": 8081, "backlog": 1024},
                    "options": {"max_message_size": 1048576},
                    "serializers": ["cbor", "msgpack", "json"]
                },
                {
                    "type": "web",
                    "endpoint": {"type": "tcp", "port": 8080, "backlog": 1024},
                    "paths": {
                        "/": {"type": "static", "directory": "../web",
                              "options": {"enable_directory_listing": true}},
                        "ws": {
                            "type": "websocket",
                            "serializers": ["cbor", "msgpack", "json"],
                            "options": {
                                "allowed_origins": ["*"],
                                "allow_null_origin": true,
                                "enable_webstatus": false,
                                "max_frame_size": 1048576,
                                "max_message_size": 1048576,
                                "auto_fragment_size": 65536,
                                "fail_by_drop": true,
                                "open_handshake_timeout": 2500,
                                "close_handshake_timeout": 1000,
                                "auto_ping_interval": 10000,
                                "auto_ping_timeout": 5000,
                                "auto_ping_size": 12,
                                "compression": {"deflate": {"memory_level": 5}}
                            }
                        },
                        "info": {"type": "nodeinfo"}
                    }
                }
            ]
        }]
    });
    let outcome = run(&root);
    let web = "config.json: workers[0].transports[1].paths";
    assert_eq!(
        outcome.warnings,
        [
            format!(
                "{web}.\"/\".directory: /srv/node/../web is not a directory: this path answers 404 until it is"
            ),
            format!(
                "{web}.ws.options.auto_fragment_size: Crossbar.io option not used by ringbar, ignored"
            ),
            format!(
                "{web}.ws.options.enable_webstatus: Crossbar.io option not used by ringbar, ignored"
            ),
            format!(
                "{web}.ws.options.fail_by_drop: Crossbar.io option not used by ringbar, ignored"
            ),
        ]
    );
    let config = valid(outcome);
    let any_ipv4 = Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    assert_eq!(
        config.transports[0].endpoint,
        Endpoint::Tcp {
            interface: any_ipv4,
            port: 8081,
            backlog: 1024,
            tls: None
        }
    );
    let TransportKind::RawSocket(raw) = &config.transports[0].kind else {
        panic!("not rawsocket")
    };
    assert_eq!(raw.max_message_bytes, 1_048_576);
    assert_eq!(
        raw.serializers,
        [Serializer::Cbor, Serializer::MsgPack, Serializer::Json]
    );
    let TransportKind::Web(web) = &config.transports[1].kind else {
        panic!("not web")
    };
    let (path, WebService::Static(files)) = &web.paths[0] else {
        panic!("not static: {:?}", web.paths[0])
    };
    assert_eq!(path, "/");
    assert_eq!(files.directory, PathBuf::from("/srv/node/../web"));
    let WebService::WebSocket(ws) = &web.paths[2].1 else {
        panic!("not websocket: {:?}", web.paths[2])
    };
    assert_eq!(
        ws.options,
        WebSocketOptions {
            max_frame_bytes: 1_048_576,
            max_message_bytes: 1_048_576,
            open_handshake_timeout_ms: 2500,
            close_handshake_timeout_ms: 1000,
            auto_ping_interval_ms: 10_000,
            auto_ping_timeout_ms: 5000,
            auto_ping_size: 12,
            require_subprotocol: true,
            origins: OriginPolicy {
                allowed: vec!["*".into()],
                allow_null: true
            },
            deflate: Some(DeflateConfig {
                memory_level: 5,
                ..DeflateConfig::default()
            }),
        }
    );
}

#[test]
fn every_error_is_reported_at_once() {
    let root = json!({
        "version": 2,
        "workers": [{
            "type": "router",
            "realms": [
                {"name": "a b"},
                {"name": "realm1", "roles": [{"name": "r", "permissions": [
                    {"uri": "com.", "match": "glob"}
                ]}]},
                {"name": "realm1"}
            ],
            "transports": [
                {"type": "websocket", "endpoint": {"type": "tcp", "port": 70000}},
                {"type": "rawsocket", "endpoint": tcp(8081), "serializers": ["json", "flatbuffers"]},
                {"type": "web", "endpoint": tcp(8080), "paths": {"foo": {"type": "wsgi"}}}
            ]
        }]
    });
    let outcome = run(&root);
    let w = "config.json: workers[0]";
    assert_eq!(
        errors_of(&outcome),
        [
            format!(
                "{w}.realms[0].name: \"a b\" is not a valid realm URI (invalid character ' ' in URI component 0)"
            ),
            format!(
                "{w}.realms[1].roles[0].permissions[0].match: \"glob\" is not one of exact, prefix, wildcard"
            ),
            format!(
                "{w}.realms[2].name: realm \"realm1\" is defined twice (also at realms[1]): give each realm its own name"
            ),
            format!("{w}.transports[0].endpoint.port: 70000 is not a port (1-65535)"),
            format!(
                "{w}.transports[1].serializers[1]: \"flatbuffers\" is not supported (json, msgpack, cbor, ubjson)"
            ),
            format!(
                "{w}.transports[2].paths.foo.type: \"wsgi\" is not supported yet (websocket, static, nodeinfo, json, redirect, path, publisher, caller, webhook)"
            ),
        ]
    );
    assert!(outcome.config.is_none());
}

#[test]
fn typos_are_errors_that_name_the_nearest_key_at_every_level() {
    let outcome = run(&json!({
        "version": 2,
        "workerz": [],
        "workers": [{
            "type": "router",
            "realmz": [],
            "realms": [{"name": "realm1", "optons": {}, "roles": [{
                "name": "anonymous",
                "permisions": [],
                "permissions": [{"uri": "", "match": "prefix", "allow": {"cal": true}, "alow": {}}]
            }]}],
            "transports": [{
                "type": "websocket",
                "endpoint": {"type": "tcp", "port": 8080, "prot": 8080},
                "serializer": ["json"],
                "auth": {"anonymous": {"type": "static", "rol": "anonymous"}}
            }]
        }]
    }));
    let w = "config.json: workers[0]";
    assert_eq!(
        outcome.errors,
        [
            "config.json: workerz: unknown key: did you mean `workers`?".to_owned(),
            format!("{w}.realmz: unknown key: did you mean `realms`?"),
            format!("{w}.realms[0].optons: unknown key: did you mean `options`?"),
            format!("{w}.realms[0].roles[0].permisions: unknown key: did you mean `permissions`?"),
            format!(
                "{w}.realms[0].roles[0].permissions[0].allow.cal: unknown key: did you mean `call`?"
            ),
            format!(
                "{w}.realms[0].roles[0].permissions[0].alow: unknown key: did you mean `allow`?"
            ),
            format!("{w}.transports[0].serializer: unknown key: did you mean `serializers`?"),
            format!("{w}.transports[0].endpoint.prot: unknown key: did you mean `port`?"),
            format!("{w}.transports[0].auth.anonymous.rol: unknown key: did you mean `role`?"),
        ]
    );
    assert!(outcome.config.is_none());
}

#[test]
fn a_stranger_key_lists_the_keys_of_its_place() {
    let outcome = transport(json!({"type": "rawsocket", "endpoint": tcp(8081), "colour": 1}));
    assert_eq!(
        outcome.errors,
        [
            "config.json: workers[0].transports[0].colour: unknown key (the keys here: id, endpoint, serializers, options, max_message_size, auth, type, debug, max_connections)"
        ]
    );
}

#[test]
fn crossbar_keys_ringbar_does_not_use_stay_warnings() {
    let outcome = transport(json!({"type": "websocket", "endpoint": tcp(8080),
        "options": {"enable_webstatus": false}}));
    assert_eq!(
        outcome.warnings,
        [
            "config.json: workers[0].transports[0].options.enable_webstatus: Crossbar.io option not used by ringbar, ignored"
        ]
    );
    valid(outcome);
}

#[test]
fn type_errors_name_their_path() {
    let outcome = transport(json!({"type": "rawsocket",
        "endpoint": {"type": "tcp", "port": 8081, "backlog": "many"}}));
    assert_eq!(
        errors_of(&outcome),
        [
            "config.json: workers[0].transports[0].endpoint.backlog: invalid type: string \"many\", expected i64"
        ]
    );
    let outcome = realm(
        json!({"name": "realm1", "roles": [{"name": "r", "permissions": [
            {"uri": "a", "allow": {"call": "yes"}}
        ]}]}),
    );
    assert_eq!(
        errors_of(&outcome),
        [
            "config.json: workers[0].realms[0].roles[0].permissions[0].allow.call: invalid type: string \"yes\", expected a boolean"
        ]
    );
    let outcome = realm(json!({"roles": []}));
    assert_eq!(
        errors_of(&outcome),
        ["config.json: workers[0].realms[0]: missing field `name`"]
    );
}

#[test]
fn version_must_be_2() {
    let mut root = router(realm1(), json!([]));
    root["version"] = json!(3);
    assert_eq!(
        errors_of(&run(&root)),
        ["config.json: version: 3 is not supported: ringbar reads version 2"]
    );
    root["version"] = json!(1);
    assert_eq!(
        errors_of(&run(&root)),
        [
            "config.json: version: 1 is too old: ringbar reads version 2 (`crossbar upgrade` converts the file)"
        ]
    );
    root["version"] = json!("2");
    assert_eq!(
        errors_of(&run(&root)),
        ["config.json: version: \"2\" is not supported: ringbar reads version 2"]
    );
    let root = json!({"workers": [{"type": "router"}]});
    assert_eq!(
        errors_of(&run(&root)),
        ["config.json: missing \"version\": add \"version\": 2 (Crossbar.io's config version)"]
    );
}

#[test]
fn the_file_must_hold_an_object() {
    assert_eq!(
        errors_of(&run(&json!([1, 2]))),
        [
            "config.json: [1,2] is not a node config: the file must hold one object with \"version\": 2 and \"workers\""
        ]
    );
}

#[test]
fn workers() {
    let outcome = run(&json!({"version": 2, "workers": []}));
    assert_eq!(
        errors_of(&outcome),
        [
            "config.json: workers: no router worker: add {\"type\": \"router\", \"realms\": [...], \"transports\": [...]} (`ringbar init` writes an example)"
        ]
    );
    let outcome = run(&json!({"version": 2, "workers": [
        {"type": "router"}, {"type": "container"}, {"type": "bridge"}, {"type": "router"}, {}
    ]}));
    assert_eq!(
        errors_of(&outcome),
        [
            "config.json: workers[2].type: \"bridge\" is not a worker type (router, container, websocket-testee, guest, postgresql-bridge, srdp-bridge)",
            "config.json: workers[3].type: a second router worker is not supported yet: move its realms and transports into workers[0]",
            "config.json: workers[4]: missing \"type\" of the worker (router, container, websocket-testee, guest, postgresql-bridge, srdp-bridge)",
        ]
    );
    // A node of guest workers only runs no router worker, as in Crossbar.io.
    let outcome = run(&json!({"version": 2, "workers": [{"type": "guest", "executable": "x"}]}));
    assert!(errors_of(&outcome).is_empty());
    // Nor does a bridge node (its container is read by `config::bridge`).
    let outcome = run(&json!({"version": 2, "workers": [{"type": "container"}]}));
    assert!(errors_of(&outcome).is_empty());
    let outcome = run(&json!({"version": 2, "workers": [
        {"type": "router", "components": [{"type": "class"}], "connections": [{}]}
    ]}));
    assert_eq!(
        errors_of(&outcome),
        ["config.json: workers[0].connections: router connections are not supported yet",]
    );
}

#[test]
fn an_empty_router_warns() {
    let outcome = run(
        &json!({"version": 2, "workers": [{"type": "router", "id": "worker001", "options": {"title": "x"}}]}),
    );
    assert_eq!(
        outcome.warnings,
        [
            "config.json: workers[0].realms: no realms: no session can join this router",
            "config.json: workers[0].transports: no transports: nothing listens for clients",
        ]
    );
    valid(outcome);
}

#[test]
fn the_controller_is_accepted() {
    let mut root = router(
        realm1(),
        json!([{"type": "rawsocket", "endpoint": tcp(8081)}]),
    );
    root["controller"] = json!({"id": "node1", "options": {"title": "n"}, "manhole": {},
        "enable_docker": false, "optins": 1});
    let outcome = run(&root);
    assert_eq!(
        outcome.errors,
        ["config.json: controller.optins: unknown key: did you mean `options`?"]
    );
    assert_eq!(
        outcome.warnings,
        [
            "config.json: controller.enable_docker: a Crossbar.io FX controller option (Fabric, blockchain, Docker), not used by ringbar; ignored"
        ]
    );
}
