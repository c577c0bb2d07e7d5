//! Realms, roles and permissions.

use ringbar_engine::config::{Allow, Disclose, EventHistory};
use ringbar_protocol::uri::{MatchPolicy, UriCheck};
use serde_json::json;

use super::*;

#[test]
fn permissions() {
    let outcome = realm(
        json!({"name": "realm1", "roles": [{"name": "user", "permissions": [
            {"uri": "com.example.add", "allow": {"call": true, "register": true}, "cache": true},
            {"uri": "com.example.*", "allow": {"subscribe": true}, "disclose": {"publisher": true}},
            {"uri": "com.*.create", "allow": {"publish": true}},
            {"uri": "com.example.*", "match": "exact"},
            {"uri": "com..x", "match": "wildcard"}
        ]}]}),
    );
    let config = valid(outcome);
    let permissions = &config.realms[0].roles[0].permissions;
    let summary: Vec<(&str, MatchPolicy)> = permissions
        .iter()
        .map(|p| (p.uri.as_str(), p.match_policy))
        .collect();
    assert_eq!(
        summary,
        [
            ("com.example.add", MatchPolicy::Exact),
            ("com.example.", MatchPolicy::Prefix),
            ("com..create", MatchPolicy::Wildcard),
            ("com.example.*", MatchPolicy::Exact),
            ("com..x", MatchPolicy::Wildcard),
        ]
    );
    assert_eq!(
        permissions[0].allow,
        Allow {
            call: true,
            register: true,
            ..Allow::default()
        }
    );
    assert!(permissions[0].cache);
    assert!(!permissions[1].cache);
    assert_eq!(
        permissions[1].disclose,
        Disclose {
            caller: false,
            publisher: true
        }
    );
}

#[test]
fn permission_errors() {
    let outcome = realm(
        json!({"name": "realm1", "roles": [{"name": "user", "permissions": [
        {"uri": "com..x"},
        {"uri": "com x", "match": "prefix"},
        {"uri": "a", "validate": {"call": "int"}}
    ]}, {"name": "dyn", "authorizer": 7}, {"name": "user"}]}),
    );
    let r = "config.json: workers[0].realms[0].roles";
    assert_eq!(
        errors_of(&outcome),
        [
            format!(
                "{r}[0].permissions[0].uri: \"com..x\" is not a valid URI for exact matching (empty URI component at position 1)"
            ),
            format!(
                "{r}[0].permissions[1].uri: \"com x\" is not a valid URI for prefix matching (invalid character ' ' in URI component 0)"
            ),
            format!("{r}[1].authorizer: 7 is not a procedure URI (the dynamic authorizer)"),
            format!(
                "{r}[2].name: role \"user\" is defined twice in this realm (also at roles[0]): merge their permissions"
            ),
        ]
    );
    assert_eq!(
        outcome.warnings,
        [format!(
            "{r}[0].permissions[2].validate: payload validation is not supported yet; ignored"
        )]
    );
}

#[test]
fn realm_options() {
    let config = valid(realm(json!({"name": "realm1", "options": {
        "uri_check": "loose", "enable_meta_api": true, "event_dispatching_chunk_size": 100
    }})));
    assert_eq!(config.realms[0].uri_check, UriCheck::Loose);
    assert!(config.realms[0].enable_meta_api);
    let config = valid(realm(
        json!({"name": "realm1", "id": "realm001", "options": {"enable_meta_api": false}}),
    ));
    assert!(!config.realms[0].enable_meta_api);
    assert_eq!(config.realms[0].uri_check, UriCheck::Strict);
    assert!(valid(realm(json!({"name": "realm1"}))).realms[0].enable_meta_api);
    let outcome = realm(json!({"name": "realm1", "options": {"enable_meta_api": "no"}}));
    assert_eq!(
        errors_of(&outcome),
        [
            "config.json: workers[0].realms[0].options.enable_meta_api: invalid type: string \"no\", expected a boolean"
        ]
    );
    let outcome = realm(
        json!({"name": "realm1", "options": {"uri_check": "lax"}, "store": {"type": "memory"}}),
    );
    assert_eq!(
        errors_of(&outcome),
        [
            "config.json: workers[0].realms[0].options.uri_check: \"lax\" is not one of strict, loose"
        ]
    );
    assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
}

#[test]
fn event_history_store() {
    let config = valid(realm(json!({"name": "realm1", "store": {
        "type": "memory", "limit": 50,
        "event-history": [
            {"uri": "com.example.oncounter", "limit": 1000},
            {"uri": "com.example.", "match": "prefix"}
        ],
        "call-queue": []
    }})));
    assert_eq!(
        config.realms[0].event_history,
        [
            EventHistory {
                uri: "com.example.oncounter".into(),
                match_policy: MatchPolicy::Exact,
                limit: 1000
            },
            EventHistory {
                uri: "com.example.".into(),
                match_policy: MatchPolicy::Prefix,
                limit: 50
            },
        ]
    );
    let outcome = realm(json!({"name": "realm1", "store": {
        "type": "memory",
        "event-history": [{"uri": "com.x", "match": "fuzzy"}, {"limit": 0}, {"uri": "com..x"}]
    }}));
    assert_eq!(
        errors_of(&outcome),
        [
            "config.json: workers[0].realms[0].store.event-history[0].match: \"fuzzy\" is not one of exact, prefix, wildcard",
            "config.json: workers[0].realms[0].store.event-history[1].uri: missing: the topic whose events are kept",
            "config.json: workers[0].realms[0].store.event-history[2].uri: \"com..x\" is not a valid exact URI (empty URI component at position 1)",
        ]
    );
    let outcome = realm(json!({"name": "realm1", "store": {"type": "lmdb"}}));
    assert_eq!(
        errors_of(&outcome),
        [
            "config.json: workers[0].realms[0].store.type: \"lmdb\" stores are not supported: use \"memory\""
        ]
    );
}

#[test]
fn the_realm_template_lists_roles_that_may_create_realms() {
    let outcome = realm(json!({"name": "*", "roles": [
        {"name": "maker", "create": true, "authorizer": "com.example.authorize"},
        {"name": "user", "permissions": [{"uri": "", "match": "prefix",
                                          "allow": {"subscribe": true, "list": false}}]}
    ]}));
    let config = valid(outcome);
    let roles = &config.realms[0].roles;
    assert_eq!(config.realms[0].name, "*");
    assert!(roles[0].create && !roles[1].create);
    assert_eq!(
        roles[0].authorizer.as_deref(),
        Some("com.example.authorize")
    );
    assert_eq!(roles[1].permissions[0].allow.list, Some(false));
    let outcome = realm(json!({"name": "realm1", "roles": [{"name": "maker", "create": true}]}));
    assert!(
        outcome
            .warnings
            .contains(&"config.json: workers[0].realms[0].roles[0].create: only used in the realm template (\"name\": \"*\"); ignored".to_owned()),
        "{:?}",
        outcome.warnings
    );
}
