//! Transport types, ids and connection caps.

use ringbar_engine::config::DEFAULT_MAX_CONNECTIONS;
use serde_json::json;

use super::*;

#[test]
fn transport_types() {
    let t = "config.json: workers[0].transports[0]";
    assert_eq!(
        errors_of(&transport(json!({"type": "mqtt", "endpoint": tcp(1883)}))),
        [format!(
            "{t}.type: \"mqtt\" transports are not supported yet (websocket, rawsocket, web, universal, websocket.testee)"
        )]
    );
    assert_eq!(
        errors_of(&transport(json!({"type": "http", "endpoint": tcp(80)}))),
        [format!(
            "{t}.type: \"http\" is not a transport type (websocket, rawsocket, web, universal, websocket.testee)"
        )]
    );
    assert_eq!(
        errors_of(&transport(json!({"type": "websocket"}))),
        [format!("{t}: missing field `endpoint`")]
    );
}

#[test]
fn transport_ids() {
    let outcome = run(&router(
        realm1(),
        json!([
            {"type": "rawsocket", "id": "raw_1", "endpoint": tcp(8081)},
            {"type": "rawsocket", "id": "raw_1", "endpoint": tcp(8082)},
            {"type": "rawsocket", "id": "Raw", "endpoint": tcp(8083)},
        ]),
    ));
    let t = "config.json: workers[0].transports";
    assert_eq!(
        errors_of(&outcome),
        [
            format!(
                "{t}[2].id: \"Raw\" is not a valid id (a lowercase letter, then 2 to 63 of a-z, 0-9, _)"
            ),
            format!(
                "{t}[1].id: transport id \"raw_1\" is used twice (also at workers[0].transports[0]): give each transport its own id"
            ),
        ]
    );
}

#[test]
fn max_connections() {
    let config = valid(run(&router(
        realm1(),
        json!([
            {"type": "rawsocket", "endpoint": tcp(8081), "max_connections": 2},
            {"type": "websocket", "endpoint": tcp(8080), "max_connections": 1},
            {"type": "web", "endpoint": tcp(8082), "paths": {}, "max_connections": 3},
            {"type": "rawsocket", "endpoint": tcp(8083)},
        ]),
    )));
    let caps: Vec<usize> = config
        .transports
        .iter()
        .map(|t| t.max_connections)
        .collect();
    assert_eq!(caps, [2, 1, 3, DEFAULT_MAX_CONNECTIONS]);
    let outcome = run(&router(
        realm1(),
        json!([
            {"type": "rawsocket", "endpoint": tcp(8081), "max_connections": 0},
            {"type": "websocket", "endpoint": tcp(8080), "max_connections": true},
            {"type": "websocket", "endpoint": tcp(8082), "max_connections": 2.5},
        ]),
    ));
    let t = "config.json: workers[0].transports";
    assert_eq!(
        errors_of(&outcome),
        [
            format!("{t}[0].max_connections: 0 is not a connection count (an integer, at least 1)"),
            format!(
                "{t}[1].max_connections: true is not a connection count (an integer, at least 1)"
            ),
            format!(
                "{t}[2].max_connections: 2.5 is not a connection count (an integer, at least 1)"
            ),
        ]
    );
}
