//! Transport types and ids.

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
