//! Conversion tests: what each Crossbar.io construct becomes, and the exact
//! message of every error. Helpers here, tests by area beside.

mod auth;
mod endpoints;
mod node;
mod realms;
mod rest;
mod transports;
mod web;
mod websocket;
mod workers;

use std::path::PathBuf;

use ringbar_engine::config::RouterConfig;
use serde_json::{Value, json};

use super::convert;
use crate::config::default::DEFAULT_CONFIG_JSON;
use crate::config::diag::Diagnostics;
use crate::config::settings::Overrides;

/// The node directory the tests pretend to read.
pub(super) const DIR: &str = "/srv/node";

pub(super) struct Outcome {
    pub(super) config: Option<RouterConfig>,
    pub(super) errors: Vec<String>,
    pub(super) warnings: Vec<String>,
}

pub(super) fn env(name: &str) -> Option<String> {
    match name {
        "WS_PORT" => Some("9000".into()),
        "BAD_PORT" => Some("http".into()),
        "JOE_TICKET" => Some("from-env".into()),
        _ => None,
    }
}

pub(super) fn run(root: &Value) -> Outcome {
    let mut diag = Diagnostics::new("config.json");
    let config = convert(
        root,
        &PathBuf::from(DIR),
        &env,
        Overrides::default(),
        &mut diag,
    );
    Outcome {
        config,
        errors: diag.errors().iter().map(ToString::to_string).collect(),
        warnings: diag.warnings().iter().map(ToString::to_string).collect(),
    }
}

/// A config of one router worker with `realms` and `transports`.
pub(super) fn router(realms: Value, transports: Value) -> Value {
    json!({
        "version": 2,
        "workers": [{"type": "router", "realms": realms, "transports": transports}]
    })
}

pub(super) fn realm1() -> Value {
    json!([{"name": "realm1", "roles": [{"name": "anonymous", "permissions": [
        {"uri": "", "match": "prefix", "allow": {"call": true}}
    ]}]}])
}

pub(super) fn tcp(port: u16) -> Value {
    json!({"type": "tcp", "port": port})
}

/// Converts a router whose only transport is `transport`.
pub(super) fn transport(transport: Value) -> Outcome {
    run(&router(realm1(), json!([transport])))
}

/// Converts a router whose only realm is `realm`.
pub(super) fn realm(realm: Value) -> Outcome {
    run(&router(
        json!([realm]),
        json!([{"type": "rawsocket", "endpoint": tcp(8081)}]),
    ))
}

pub(super) fn errors_of(outcome: &Outcome) -> Vec<&str> {
    outcome.errors.iter().map(String::as_str).collect()
}

pub(super) fn valid(outcome: Outcome) -> RouterConfig {
    assert!(outcome.errors.is_empty(), "errors: {:#?}", outcome.errors);
    outcome.config.expect("a config when there are no errors")
}
