//! The REST bridge's path services: Crossbar.io's keys, and every bad
//! value named by its path.

use ringbar_engine::config::{TransportKind, WebService};
use serde_json::{Value, json};

use super::*;

fn web(paths: Value) -> Value {
    json!({"type": "web", "endpoint": tcp(8080), "paths": paths})
}

#[test]
fn publisher_caller_and_webhook_read_crossbars_keys() {
    let config = valid(super::transport(web(json!({
        "publish": {"type": "publisher", "realm": "realm1", "role": "anonymous", "options": {
            "key": "bazapp", "secret": "foobar", "require_tls": true,
            "require_ip": ["127.0.0.1", "10.0.0.0/8", "192.168.1.0/255.255.255.0"],
            "post_body_limit": 1024, "timestamp_delta_limit": 10, "debug": true,
            "max_nonces": 5000000
        }},
        "call": {"type": "caller", "realm": "realm1", "role": "anonymous", "options": {"timeout": 1500}},
        "hook": {"type": "webhook", "realm": "realm1", "role": "anonymous", "options": {
            "topic": "com.hook", "success_response": "yes", "github_secret": "gh"
        }}
    }))));
    let Some(TransportKind::Web(web)) = config.transports.into_iter().next().map(|t| t.kind) else {
        panic!("not web");
    };
    // serde_json's map keeps keys sorted: call, hook, publish.
    let [
        (_, WebService::Caller(caller)),
        (_, WebService::Webhook(hook)),
        (_, WebService::Publisher(publisher)),
    ] = &web.paths[..]
    else {
        panic!("{:?}", web.paths);
    };
    let options = &publisher.options;
    assert_eq!(
        options.signing.as_ref().map(|s| s.key.as_str()),
        Some("bazapp")
    );
    assert!(options.require_tls && options.debug);
    assert_eq!(options.require_ip.len(), 3);
    assert_eq!(
        (
            options.post_body_limit_bytes,
            options.timestamp_delta_limit_s
        ),
        (1024, 10)
    );
    assert_eq!(caller.call_timeout_ms, 1500);
    assert_eq!(caller.options.timestamp_delta_limit_s, 300);
    assert!(caller.options.signing.is_none());
    assert_eq!(
        (hook.topic.as_str(), hook.success_response.as_str()),
        ("com.hook", "yes")
    );
    assert_eq!(hook.error_response, "NOT OK");
    assert_eq!(hook.github_secret.as_deref(), Some("gh"));
}

#[test]
fn bad_rest_services_name_their_path() {
    let outcome = super::transport(web(json!({
        "a": {"type": "publisher", "realm": "realm1", "role": "anonymous", "options": {
            "key": "k", "require_ip": ["10.0.0.1/8"], "post_body_limit": 2000000, "color": "red"
        }},
        "b": {"type": "caller", "realm": "nowhere", "role": "anonymous", "options": {"timeout": 0}},
        "c": {"type": "caller", "realm": "realm1", "role": "nobody"},
        "d": {"type": "webhook", "realm": "realm1", "role": "anonymous", "options": {}},
        "e": {"type": "publisher", "realm": "realm1"},
        "f": {"type": "publisher", "realm": "realm1", "role": "anonymous", "options": {
            "key": "k", "secret": "s", "max_nonces": 0
        }}
    })));
    let p = "config.json: workers[0].transports[0].paths";
    assert_eq!(
        errors_of(&outcome),
        [
            format!(
                "{p}.a.options.color: unknown key (the keys here: debug, key, secret, require_tls, require_ip, post_body_limit, timestamp_delta_limit, timeout, max_nonces)"
            ),
            format!(
                "{p}.a.options.key: a key without a secret: add \"secret\" so requests are signed, or remove \"key\""
            ),
            format!("{p}.b.options.timeout: 0 is out of range (1-86400000 ms)"),
            format!(
                "{p}.d.options: missing \"topic\": the topic the webhook's events are published to"
            ),
            format!("{p}.e: missing field `role`"),
            format!("{p}.f.options.max_nonces: 0 is out of range (1-50000000 nonces)"),
            format!(
                "{p}.c.role: role \"nobody\" is not defined in realm \"realm1\": the service acts as a session of it; add the role or name another"
            ),
        ]
    );
}
