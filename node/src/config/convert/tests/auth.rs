//! A transport's `auth`: every method with static principals, and the
//! message of every error.

use std::collections::BTreeMap;

use ringbar_engine::config::{
    AnonymousAuth, AuthConfig, AuthenticatorProcedure, CryptosignPrincipal, Grant, Pbkdf2Params,
    Provider, Secret, TicketPrincipal, TlsPrincipal, TransportKind, WampCraPrincipal,
};
use serde_json::{Value, json};

use super::*;

const A: &str = "config.json: workers[0].transports[0]";

fn realms() -> Value {
    json!([{"name": "realm1", "roles": [
        {"name": "anonymous"}, {"name": "public"}, {"name": "user"}, {"name": "device"}
    ]}])
}

fn auth_of(auth: Value) -> (AuthConfig, Vec<String>) {
    let outcome = run(&router(
        realms(),
        json!([{"type": "rawsocket", "endpoint": tcp(1), "auth": auth}]),
    ));
    let warnings = outcome.warnings.clone();
    let config = valid(outcome);
    let TransportKind::RawSocket(raw) = &config.transports[0].kind else {
        panic!("not rawsocket")
    };
    ((*raw.auth).clone(), warnings)
}

fn grant(role: &str, realm: Option<&str>) -> Grant {
    Grant {
        role: role.into(),
        realm: realm.map(Into::into),
    }
}

#[test]
fn every_method_with_static_principals() {
    let key = "a".repeat(64);
    let (auth, warnings) = auth_of(json!({
        "anonymous": {"type": "static", "role": "public", "authid": "guest"},
        "ticket": {"type": "static", "principals": {
            "joe": {"ticket": "secret!!!", "role": "user"},
            "env": {"ticket": "${JOE_TICKET}", "role": "user", "realm": "realm1"}
        }},
        "wampcra": {"type": "static", "users": {
            "peter": {"secret": "secret1", "role": "user"},
            "salty": {"secret": "pw", "role": "user", "salt": "salt123", "iterations": 100, "keylen": 16}
        }},
        "cryptosign": {"type": "static", "principals": {
            "alice": {"authorized_keys": [key], "role": "user"}
        }},
        "tls": {"type": "static", "principals": {
            "client0": {"certificate-sha1": "B6:E5:E6:F2:2A:86:DB:3C:DC:9F:51:42:58:39:9B:14:92:5D:A1:EB", "role": "device"}
        }}
    }));
    assert!(warnings.is_empty(), "{warnings:#?}");
    let expected = AuthConfig {
        anonymous: Some(AnonymousAuth {
            role: "public".into(),
            authid: Some("guest".into()),
        }),
        ticket: Some(Provider::Static(BTreeMap::from([
            (
                "joe".into(),
                TicketPrincipal {
                    ticket: Secret("secret!!!".into()),
                    grant: grant("user", None),
                },
            ),
            (
                "env".into(),
                TicketPrincipal {
                    ticket: Secret("from-env".into()),
                    grant: grant("user", Some("realm1")),
                },
            ),
        ]))),
        wampcra: Some(Provider::Static(BTreeMap::from([
            (
                "peter".into(),
                WampCraPrincipal::new(&Secret("secret1".into()), None, grant("user", None)),
            ),
            (
                "salty".into(),
                WampCraPrincipal::new(
                    &Secret("pw".into()),
                    Some(Pbkdf2Params {
                        salt: "salt123".into(),
                        iterations: 100,
                        keylen: 16,
                    }),
                    grant("user", None),
                ),
            ),
        ]))),
        cryptosign: Some(Provider::Static(BTreeMap::from([(
            "alice".into(),
            CryptosignPrincipal {
                authorized_keys: vec![[0xaa; 32]],
                grant: grant("user", None),
            },
        )]))),
        tls: Some(Provider::Static(BTreeMap::from([(
            "client0".into(),
            TlsPrincipal {
                certificate_sha1: [
                    0xB6, 0xE5, 0xE6, 0xF2, 0x2A, 0x86, 0xDB, 0x3C, 0xDC, 0x9F, 0x51, 0x42, 0x58,
                    0x39, 0x9B, 0x14, 0x92, 0x5D, 0xA1, 0xEB,
                ],
                grant: grant("device", None),
            },
        )]))),
    };
    assert_eq!(auth, expected);
    // secrets never show in Debug output (logs)
    assert!(!format!("{auth:?}").contains("secret!!!"));
}

#[test]
fn no_auth_means_anonymous() {
    let outcome = transport(json!({"type": "rawsocket", "endpoint": tcp(1)}));
    let config = valid(outcome);
    let TransportKind::RawSocket(raw) = &config.transports[0].kind else {
        panic!("not rawsocket")
    };
    assert_eq!(*raw.auth, AuthConfig::default());
    let (auth, _) = auth_of(json!({}));
    assert_eq!(auth, AuthConfig::none());
}

#[test]
fn dynamic_authenticators_name_a_procedure_and_its_realm() {
    let (auth, _) = auth_of(json!({
        "ticket": {"type": "dynamic", "authenticator": "com.example.auth"},
        "wampcra": {"type": "dynamic", "authenticator": "com.example.cra",
                    "authenticator-realm": "realm1"},
    }));
    fn procedure<P>(name: &str, realm: Option<&str>) -> Provider<P> {
        Provider::Procedure(AuthenticatorProcedure {
            procedure: name.into(),
            realm: realm.map(str::to_owned),
        })
    }
    assert_eq!(auth.ticket, Some(procedure("com.example.auth", None)));
    assert_eq!(
        auth.wampcra,
        Some(procedure("com.example.cra", Some("realm1")))
    );
}

#[test]
fn an_authenticator_realm_must_exist() {
    let outcome = transport(json!({"type": "websocket", "endpoint": tcp(1), "auth": {
        "ticket": {"type": "dynamic", "authenticator": "a.b", "authenticator-realm": "nowhere"}
    }}));
    let errors = errors_of(&outcome);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].ends_with(
            ": auth.ticket.authenticator-realm: realm \"nowhere\" is not defined: the dynamic authenticator is called there; add the realm or name another"
        ),
        "{errors:?}"
    );
}

#[test]
fn auth_errors_are_named() {
    let outcome = transport(json!({"type": "websocket", "endpoint": tcp(1), "auth": {
        "ticket": {"type": "dynamic", "authenticator-realm": "auth"},
        "wampcra": {"type": "static", "principals": {}},
        "cryptosign": {"type": "static", "principals": {
            "alice": {"authorized_keys": ["abc"], "role": "user"},
            "bob": {"authorized_keys": []}
        }},
        "tls": {"type": "static", "principals": {"c": {"certificate-sha1": "xyz", "role": "r"}}},
        "scram": {"type": "static"},
        "password": {},
        "anonymous": {"type": "function"}
    }}));
    assert_eq!(
        errors_of(&outcome),
        [
            format!(
                "{A}.auth.anonymous.type: \"function\" authentication is not supported yet: list \"static\" principals"
            ),
            format!(
                "{A}.auth.cryptosign.principals.alice.authorized_keys[0]: \"abc\" is not an Ed25519 public key (64 hex digits)"
            ),
            format!(
                "{A}.auth.cryptosign.principals.bob: missing \"role\": the authrole this principal gets"
            ),
            format!(
                "{A}.auth.password: \"password\" is not an authentication method (anonymous, ticket, wampcra, cryptosign, tls)"
            ),
            format!(
                "{A}.auth.scram: authentication method scram is not supported yet (anonymous, ticket, wampcra, cryptosign, tls)"
            ),
            format!(
                "{A}.auth.ticket: missing \"authenticator\": the procedure that dynamic authentication calls"
            ),
            format!(
                "{A}.auth.tls.principals.c.certificate-sha1: \"xyz\" is not a SHA-1 fingerprint (40 hex digits, colons allowed)"
            ),
            format!(
                "{A}.auth.wampcra.principals: this method lists its principals under \"users\", not \"principals\""
            ),
        ]
    );
    let outcome = transport(json!({"type": "websocket", "endpoint": tcp(1), "auth": {
        "ticket": {"type": "static", "principals": {"joe": {"ticket": "$NO_SUCH_VAR", "role": "anonymous"}}},
        "wampcra": {"type": "static", "users": {
            "a": {"secret": "s", "role": "anonymous", "iterations": 10},
            "b": {"secret": "s", "role": "anonymous", "salt": "x", "iterations": 0, "keylen": 4096}
        }}
    }}));
    assert_eq!(
        errors_of(&outcome),
        [
            format!(
                "{A}.auth.ticket.principals.joe.ticket: environment variable NO_SUCH_VAR is not set (it holds this secret)"
            ),
            format!("{A}.auth.wampcra.users.a.salt: \"iterations\" and \"keylen\" need a \"salt\""),
            format!("{A}.auth.wampcra.users.b.iterations: 0 is out of range (1-1000000)"),
            format!("{A}.auth.wampcra.users.b.keylen: 4096 is out of range (1-1024)"),
        ]
    );
}

#[test]
fn auth_warnings() {
    let outcome = transport(json!({"type": "websocket", "endpoint": tcp(1), "auth": {
        "anonymous": {"type": "static", "role": "guest", "authid": "x"},
        "ticket": {"type": "static", "principals": {"joe": {"ticket": "t", "role": "nobody"}}}
    }}));
    assert_eq!(
        outcome.warnings,
        [
            format!(
                "{A}.auth.anonymous: role \"guest\" is not defined in any realm: sessions given it will be refused"
            ),
            format!(
                "{A}.auth.ticket.principals.joe.role: role \"nobody\" is not defined in any realm: sessions given it will be refused"
            ),
        ]
    );
    let outcome = transport(json!({"type": "websocket", "endpoint": tcp(1), "auth": {}}));
    assert_eq!(
        outcome.warnings,
        [format!(
            "{A}.auth: no authentication method: this transport refuses every session"
        )]
    );
    let outcome = transport(json!({"type": "websocket", "endpoint": tcp(1), "auth": {
        "anonymous": {"type": "static", "realm": "realm1"}
    }}));
    assert_eq!(
        errors_of(&outcome),
        [format!(
            "{A}.auth.anonymous.realm: limiting anonymous sessions to one realm is not supported yet; remove \"realm\""
        )]
    );
}
