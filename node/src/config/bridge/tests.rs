//! Reading bridge workers: Crossbar.io's container and router component
//! shapes, the worker socket for components joining this node's router,
//! remote routers, and the errors with their paths.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::PathBuf;

use ringbar_bridges::config::{BridgeWorker, ComponentKind, Method};
use ringbar_client::{Credentials, Url, UrlTransport};
use ringbar_engine::config::{Endpoint, Provider, RouterConfig, TransportKind};
use serde_json::{Value, json};

use super::SOCKET_FILE;
use crate::config::{LoadError, Overrides, load_json};

fn dir() -> PathBuf {
    std::env::temp_dir().join(format!("ringbar-bridge-config-{}", std::process::id()))
}

/// A router on realm1 (role `anonymous`, and `backend`) with a WebSocket
/// transport on 8080 and a RawSocket one on a Unix socket, and `workers`
/// after it.
fn config(mut workers: Vec<Value>) -> String {
    let router = json!({
        "type": "router",
        "realms": [{"name": "realm1", "roles": [
            {"name": "anonymous", "permissions": []},
            {"name": "backend", "permissions": []}
        ]}],
        "transports": [
            {"type": "websocket", "endpoint": {"type": "tcp", "port": 8080}},
            {"type": "rawsocket", "endpoint": {"type": "unix", "path": "router.sock"},
             "auth": {"anonymous": {"type": "static", "role": "backend"}}}
        ]
    });
    workers.insert(0, router);
    json!({"version": 2, "workers": workers}).to_string()
}

fn load(workers: Vec<Value>) -> Result<(RouterConfig, Vec<BridgeWorker>), Vec<String>> {
    let text = config(workers);
    match load_json(
        &dir(),
        dir().join("config.json"),
        &text,
        Overrides::default(),
    ) {
        Ok(loaded) => Ok((loaded.router, loaded.bridges)),
        Err(LoadError::Invalid { errors, .. }) => {
            Err(errors.iter().map(ToString::to_string).collect())
        }
        Err(other) => panic!("{other}"),
    }
}

fn callee(classname: &str, transport: Value) -> Value {
    json!({
        "type": "class", "classname": classname, "realm": "realm1",
        "transport": transport,
        "extra": {"procedure": "com.example.get", "baseurl": "http://127.0.0.1:8000/api/"}
    })
}

fn ws(port: u16) -> Value {
    json!({"type": "websocket", "endpoint": {"type": "tcp", "host": "127.0.0.1", "port": port},
           "url": format!("ws://127.0.0.1:{port}/ws")})
}

fn own_socket() -> Url {
    Url::rawsocket_unix(&std::path::absolute(dir()).unwrap().join(SOCKET_FILE))
}

/// The role the worker socket grants `authid`.
fn granted(router: &RouterConfig, authid: &str) -> String {
    let socket = router
        .transports
        .iter()
        .find(|t| t.id == "ringbar-workers")
        .unwrap();
    assert_eq!(
        socket.endpoint,
        Endpoint::Unix {
            path: std::path::absolute(dir()).unwrap().join(SOCKET_FILE)
        }
    );
    let TransportKind::RawSocket(rawsocket) = &socket.kind else {
        panic!("not a rawsocket transport");
    };
    let Some(Provider::Static(principals)) = &rawsocket.auth.ticket else {
        panic!("no tickets");
    };
    assert!(rawsocket.auth.anonymous.is_none());
    principals[authid].grant.role.clone()
}

#[test]
fn a_container_on_this_routers_transport_joins_over_the_worker_socket() {
    let forwarder = json!({
        "type": "class", "classname": "crossbar.bridge.rest.MessageForwarder", "realm": "realm1",
        "transport": {"type": "rawsocket", "serializer": "msgpack",
                      "endpoint": {"type": "unix", "path": "router.sock"}},
        "extra": {"subscriptions": [
            {"topic": "com.example.", "url": "http://127.0.0.1:8000/events", "match": "prefix"}
        ], "method": "put", "expectedcode": 202, "debug": true, "retries": 0}
    });
    let container = json!({"type": "container", "id": "rest",
        "options": {"pythonpath": [".."], "shutdown": "shutdown-manual"},
        "components": [callee("crossbar.bridge.rest.RESTCallee", ws(8080)), forwarder]});
    let (router, bridges) = load(vec![container]).unwrap();
    assert_eq!(bridges.len(), 1);
    let worker = &bridges[0];
    assert_eq!((worker.id.as_str(), worker.components.len()), ("rest", 2));
    let [callee, forwarder] = &worker.components[..] else {
        panic!()
    };
    assert_eq!(callee.router, own_socket());
    assert_eq!(callee.name, "RESTCallee com.example.get");
    let Credentials::Ticket { authid, .. } = &callee.credentials else {
        panic!()
    };
    // The WebSocket transport has no auth: anonymous sessions are `anonymous`.
    assert_eq!(granted(&router, authid), "anonymous");
    let Credentials::Ticket { authid, .. } = &forwarder.credentials else {
        panic!()
    };
    // The Unix transport gives anonymous sessions `backend`.
    assert_eq!(granted(&router, authid), "backend");
    let ComponentKind::MessageForwarder(f) = &forwarder.kind else {
        panic!()
    };
    assert_eq!(
        (&f.method, f.expected_code, f.retries, f.max_queued_events),
        (&Method::PUT, Some(202), 0, 1000)
    );
    assert_eq!(f.subscriptions[0].match_policy, "prefix");
    assert_eq!(
        f.subscriptions[0].url.as_str(),
        "http://127.0.0.1:8000/events"
    );
}

#[test]
fn router_components_and_the_old_spelling_join_with_their_role() {
    let mut component = callee("crossbar.adapter.rest.RESTCallee", Value::Null);
    let object = component.as_object_mut().unwrap();
    object.remove("transport");
    object.insert("role".into(), json!("backend"));
    object.insert("id".into(), json!("callee"));
    let text = config(Vec::new());
    let mut root: Value = serde_json::from_str(&text).unwrap();
    root["workers"][0]["components"] = json!([component]);
    let loaded = load_json(
        &dir(),
        dir().join("config.json"),
        &root.to_string(),
        Overrides::default(),
    )
    .unwrap();
    let [worker] = &loaded.bridges[..] else {
        panic!()
    };
    // The router worker has no id: worker001.
    assert_eq!(worker.id, "worker001");
    let Credentials::Ticket { authid, .. } = &worker.components[0].credentials else {
        panic!()
    };
    assert_eq!(authid, "ringbar-bridge:worker001:0");
    assert_eq!(granted(&loaded.router, authid), "backend");
}

#[test]
fn a_remote_router_is_joined_at_its_url_anonymously() {
    let container = json!({"type": "container", "components": [
        callee("crossbar.bridge.rest.RESTCallee", json!({"type": "websocket",
            "endpoint": {"type": "tcp", "host": "10.0.0.5", "port": 8080},
            "url": "ws://router.example:8080/ws"})),
        callee("crossbar.bridge.rest.RESTCallee", json!({"type": "rawsocket", "serializer": "json",
            "endpoint": {"type": "tcp", "host": "127.0.0.1", "port": 9999}})),
    ]});
    let (router, bridges) = load(vec![container]).unwrap();
    let [first, second] = &bridges[0].components[..] else {
        panic!()
    };
    assert_eq!(first.router, Url::parse("ws://10.0.0.5:8080/ws").unwrap());
    assert!(matches!(first.credentials, Credentials::Anonymous));
    assert_eq!(second.router.transport, UrlTransport::RawSocket);
    assert_eq!(second.router.text, "rs://127.0.0.1:9999");
    assert!(router.transports.iter().all(|t| t.id != "ringbar-workers"));
}

#[test]
fn errors_name_their_path_and_the_fix() {
    let transport = ws(8080);
    let with_extra = |extra: Value| {
        json!({"type": "container", "components": [{"type": "class", "realm": "realm1",
            "classname": "crossbar.bridge.rest.MessageForwarder", "transport": transport, "extra": extra}]})
    };
    for (worker, expected) in [
        (
            json!({"type": "container", "components": [callee("myapp.Backend", ws(8080))]}),
            "workers[1].components[0].classname: \"myapp.Backend\" is a Python component, which ringbar does not load",
        ),
        (
            json!({"type": "container", "components": [{"type": "function", "realm": "realm1"}]}),
            "workers[1].components[0].type: \"function\" components are Python code",
        ),
        (
            with_extra(json!({"subscriptions": []})),
            "workers[1].components[0].extra.subscriptions: no subscriptions",
        ),
        (
            with_extra(json!({"subscriptions": [{"topic": "a.b", "url": "ftp://x/"}]})),
            "workers[1].components[0].extra.subscriptions[0].url: \"ftp://x/\" is not an http:// or https:// URL",
        ),
        (
            with_extra(
                json!({"subscriptions": [{"topic": "a.b", "url": "http://x/", "match": "glob"}]}),
            ),
            "workers[1].components[0].extra.subscriptions[0].match: \"glob\" is not a match policy",
        ),
        (
            with_extra(
                json!({"subscriptions": [{"topic": "a.b", "url": "http://x/"}], "expectedcode": 700}),
            ),
            "workers[1].components[0].extra.expectedcode: 700 is not an HTTP status code (100-599)",
        ),
        (
            with_extra(
                json!({"subscriptions": [{"topic": "a.b", "url": "http://x/"}], "max_queued_events": 0}),
            ),
            "workers[1].components[0].extra.max_queued_events: 0 is out of range",
        ),
        (
            json!({"type": "container", "components": [{"type": "class", "realm": "realm1",
                "classname": "crossbar.bridge.rest.RESTCallee", "transport": ws(8080),
                "extra": {"procedure": "com.example.get", "baseurl": "http://x/", "timeout": 5}}]}),
            "workers[1].components[0].extra.timeout: unknown key: did you mean `timeout_ms`?",
        ),
        (
            json!({"type": "container", "components": [{"type": "class", "realm": "nowhere",
                "classname": "crossbar.bridge.rest.RESTCallee", "transport": ws(8080),
                "extra": {"procedure": "com.example.get", "baseurl": "http://x/"}}]}),
            "workers[1].components[0].realm: realm \"nowhere\" is not defined in this node's router",
        ),
        (
            json!({"type": "container", "components": [callee("crossbar.bridge.rest.RESTCallee",
                json!({"type": "websocket", "url": "http://h/", "endpoint": {"type": "tcp", "host": "h", "port": 1}}))]}),
            "workers[1].components[0].transport.url: \"http://h/\" is not a ws:// or wss:// URL",
        ),
        (
            json!({"type": "container", "components": [callee("crossbar.bridge.rest.RESTCallee",
                json!({"type": "rawsocket", "serializer": "json", "endpoint": {"type": "tcp", "host": "h", "port": 70000}}))]}),
            "workers[1].components[0].transport.endpoint.port: 70000 is not a port (1-65535)",
        ),
    ] {
        let errors = load(vec![worker]).unwrap_err();
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{expected:?} not in {errors:#?}"
        );
    }
}

#[test]
fn a_disabled_container_is_checked_not_run() {
    let container = json!({"type": "container", "options": {"disabled": true},
        "components": [callee("crossbar.bridge.rest.RESTCallee", ws(8080))]});
    let (_, bridges) = load(vec![container]).unwrap();
    assert!(bridges.is_empty());
}

/// The worker of the PostgreSQL bridge issue, with `password` in place of
/// `password_env` (tests do not change the environment).
fn postgresql(changes: Value) -> Value {
    let mut worker = json!({
        "type": "postgresql-bridge",
        "id": "pg1",
        "router": {"realm": "realm1", "authid": "pgbridge"},
        "database": {"host": "127.0.0.1", "port": 5432, "dbname": "app",
                     "user": "app", "password": "secret", "pool_size": 8},
        "publisher": true,
        "procedures": [
            {"procedure": "com.example.add2", "function": "public.add2"},
            {"prefix": "com.example.api.", "schema": "api"}
        ],
        "subscriptions": [
            {"topic": "com.example.sensor.", "match": "prefix", "function": "public.on_sensor"}
        ],
        "caller": true
    });
    merge(&mut worker, changes);
    worker
}

fn merge(into: &mut Value, changes: Value) {
    match (into, changes) {
        (Value::Object(into), Value::Object(changes)) => {
            for (key, change) in changes {
                match into.get_mut(&key) {
                    Some(slot) if change.is_object() => merge(slot, change),
                    _ => {
                        into.insert(key, change);
                    }
                }
            }
        }
        (slot, change) => *slot = change,
    }
}

#[test]
fn a_postgresql_bridge_joins_over_the_worker_socket_as_its_authid() {
    use ringbar_bridges::postgresql::config::{ProcedureSource, SslMode};
    let (router, bridges) = load(vec![postgresql(json!({}))]).unwrap();
    let [worker] = &bridges[..] else { panic!() };
    let [component] = &worker.components[..] else {
        panic!()
    };
    assert_eq!(
        (worker.id.as_str(), component.realm.as_str()),
        ("pg1", "realm1")
    );
    assert_eq!(component.router, own_socket());
    let Credentials::Ticket { authid, .. } = &component.credentials else {
        panic!()
    };
    assert_eq!(authid, "pgbridge");
    assert_eq!(granted(&router, authid), "anonymous");
    let ComponentKind::Postgresql(bridge) = &component.kind else {
        panic!()
    };
    assert_eq!(bridge.database.password.as_deref(), Some("secret"));
    assert_eq!(bridge.database.sslmode, SslMode::Prefer);
    assert_eq!(
        (bridge.database.pool_size, bridge.publisher, bridge.caller),
        (8, true, true)
    );
    assert_eq!(
        bridge.procedures[1],
        ProcedureSource::Schema {
            prefix: "com.example.api.".into(),
            schema: "api".into()
        }
    );
    assert_eq!(bridge.registration_policy, "roundrobin");
    assert!(!format!("{bridge:?}").contains("secret"));
}

#[test]
fn a_postgresql_bridge_may_join_a_remote_router_with_a_ticket() {
    let worker = postgresql(json!({"router": {"url": "ws://10.0.0.1:8080/ws", "ticket": "t"}}));
    let (_, bridges) = load(vec![worker]).unwrap();
    let component = &bridges[0].components[0];
    assert_eq!(
        component.router,
        Url::parse("ws://10.0.0.1:8080/ws").unwrap()
    );
    assert!(matches!(
        &component.credentials,
        Credentials::Ticket { authid, ticket } if authid == "pgbridge" && ticket == "t"
    ));
}

#[test]
fn a_postgresql_bridge_may_join_a_remote_router_with_wampcra() {
    let worker = postgresql(json!({"router": {"url": "ws://10.0.0.1:8080/ws", "secret": "s"}}));
    let (_, bridges) = load(vec![worker]).unwrap();
    assert!(matches!(
        &bridges[0].components[0].credentials,
        Credentials::WampCra { authid, secret } if authid == "pgbridge" && secret == "s"
    ));
}

#[test]
fn postgresql_bridge_errors_name_their_path() {
    for (changes, expected) in [
        (
            json!({"database": {"port": 70000}}),
            "workers[1].database.port: 70000 is not a port (1-65535)",
        ),
        (
            json!({"database": {"sslmode": "verify-full"}}),
            "workers[1].database.sslrootcert: verify-ca and verify-full check the server's certificate against a CA",
        ),
        (
            json!({"database": {"sslmode": "verify-ca", "sslrootcert": "missing-ca.pem"}}),
            "workers[1].database.sslrootcert: TLS: CA file",
        ),
        (
            json!({"database": {"sslmode": "verify"}}),
            "workers[1].database.sslmode: \"verify\" is not an sslmode",
        ),
        (
            json!({"database": {"password": null, "password_env": "RINGBAR_SURELY_UNSET_VARIABLE"}}),
            "workers[1].database.password_env: the environment variable RINGBAR_SURELY_UNSET_VARIABLE is not set",
        ),
        (
            json!({"database": {"pool_size": 0}}),
            "workers[1].database.pool_size: 0 is out of range",
        ),
        (
            json!({"procedures": [{"procedure": "com.x", "schema": "api"}]}),
            "workers[1].procedures[0]: give {\"procedure\", \"function\"}",
        ),
        (
            json!({"procedures": [{"procedure": "com.x", "function": "f(); DROP TABLE t"}]}),
            "workers[1].procedures[0].function: \"f(); DROP TABLE t\" is not an SQL name",
        ),
        (
            json!({"procedures": [{"prefix": "com.api", "schema": "api"}]}),
            "workers[1].procedures[0].prefix: \"com.api\" must end with \".\"",
        ),
        (
            json!({"subscriptions": [{"topic": "com..x", "function": "f"}]}),
            "workers[1].subscriptions[0].topic: \"com..x\" is not a valid exact URI",
        ),
        (
            json!({"registration_policy": "sometimes"}),
            "workers[1].registration_policy: \"sometimes\" is not an invocation policy",
        ),
        (
            json!({"router": {"realm": "nowhere"}}),
            "workers[1].router.realm: realm \"nowhere\" is not defined",
        ),
        (
            json!({"router": {"url": "ws://10.0.0.1/ws", "secret": "s", "ticket": "t"}}),
            "workers[1].router: give one of a ticket, a secret (WAMP-CRA) and a private_key",
        ),
        (
            json!({"router": {"secret": "s"}}),
            "workers[1].router.secret: credentials are for a remote router",
        ),
        (
            json!({"databse": {}}),
            "workers[1].databse: unknown key: did you mean `database`?",
        ),
    ] {
        let errors = load(vec![postgresql(changes.clone())]).unwrap_err();
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{changes}: {errors:?}"
        );
    }
}
