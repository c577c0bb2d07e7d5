//! Worker options: `disabled` workers are checked and not started.

use serde_json::json;

use super::*;

fn rawsocket_router(options: serde_json::Value, port: u16) -> serde_json::Value {
    json!({"type": "router", "options": options, "realms": realm1(),
           "transports": [{"type": "rawsocket", "endpoint": tcp(port)}]})
}

#[test]
fn a_disabled_router_is_checked_and_not_run() {
    let outcome = run(&json!({"version": 2, "workers": [
        rawsocket_router(json!({"disabled": true}), 8081),
        rawsocket_router(json!({"disabled": false, "title": "main"}), 8082),
    ]}));
    assert_eq!(
        outcome.warnings,
        ["config.json: workers[0].options.disabled: the worker is disabled: checked, not started"]
    );
    let config = valid(outcome);
    assert_eq!(config.transports.len(), 1);
    assert!(matches!(
        config.transports[0].endpoint,
        ringbar_engine::config::Endpoint::Tcp { port: 8082, .. }
    ));

    // Its mistakes are still errors, as `crossbar check` finds them.
    let mut broken = rawsocket_router(json!({"disabled": true}), 8081);
    broken["transports"][0]["endpoint"]["port"] = json!(70000);
    let outcome = run(&json!({"version": 2, "workers": [broken]}));
    assert_eq!(
        errors_of(&outcome),
        ["config.json: workers[0].transports[0].endpoint.port: 70000 is not a port (1-65535)"]
    );
}

#[test]
fn only_disabled_workers_is_a_node_that_runs_nothing() {
    let outcome = run(&json!({"version": 2, "workers": [
        rawsocket_router(json!({"disabled": true}), 8081),
        {"type": "websocket-testee", "options": {"disabled": true},
         "transport": {"type": "websocket", "endpoint": tcp(9001)}},
    ]}));
    assert_eq!(outcome.warnings.len(), 2, "{:?}", outcome.warnings);
    let config = valid(outcome);
    assert!(config.transports.is_empty() && config.realms.is_empty());
}

#[test]
fn disabled_may_come_from_the_environment() {
    // `env` knows WS_PORT (set) and not NO_SUCH_VAR, as Crossbar.io reads
    // "$VAR": set and not empty disables.
    let outcome = run(&json!({"version": 2, "workers": [
        rawsocket_router(json!({"disabled": "$WS_PORT"}), 8081),
        rawsocket_router(json!({"disabled": "${NO_SUCH_VAR}"}), 8082),
    ]}));
    assert_eq!(outcome.warnings.len(), 1, "{:?}", outcome.warnings);
    assert_eq!(valid(outcome).transports.len(), 1);
}

#[test]
fn worker_options_are_checked() {
    let outcome = run(&json!({"version": 2, "workers": [
        rawsocket_router(json!({"disabled": "yes", "cpu_affinity": [0]}), 8081),
    ]}));
    assert_eq!(
        errors_of(&outcome),
        [
            "config.json: workers[0].options.disabled: \"yes\" is not true, false or \"$VAR\" (an environment variable that disables the worker when set)"
        ]
    );
    assert_eq!(
        outcome.warnings,
        [
            "config.json: workers[0].options.cpu_affinity: a Crossbar.io worker process option, not used by ringbar; ignored"
        ]
    );
}
