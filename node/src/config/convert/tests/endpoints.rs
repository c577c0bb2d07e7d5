//! TCP and Unix endpoints.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use ringbar_engine::config::{Endpoint, TlsConfig};
use serde_json::{Value, json};

use super::*;

#[test]
fn tls_files_are_relative_to_the_node_directory() {
    let outcome = transport(json!({"type": "rawsocket", "endpoint": {
        "type": "tcp", "port": 443, "tls": {
            "key": "server.key", "certificate": "/etc/ssl/server.crt",
            "chain_certificates": ["chain.pem"], "ca_certificates": ["ca.pem"],
            "dhparam": "dh.pem"
        }
    }}));
    assert_eq!(
        outcome.warnings,
        [
            "config.json: workers[0].transports[0].endpoint.tls.dhparam: an OpenSSL setting; ignored (rustls uses its safe defaults)"
        ]
    );
    let config = valid(outcome);
    let Endpoint::Tcp { tls: Some(tls), .. } = &config.transports[0].endpoint else {
        panic!("no tls");
    };
    assert_eq!(
        *tls,
        TlsConfig {
            key: PathBuf::from("/srv/node/server.key"),
            certificate: PathBuf::from("/etc/ssl/server.crt"),
            chain_certificates: vec![PathBuf::from("/srv/node/chain.pem")],
            ca_certificates: vec![PathBuf::from("/srv/node/ca.pem")],
            require_client_certificate: true,
        }
    );
    let outcome = transport(json!({"type": "rawsocket", "endpoint": {
        "type": "tcp", "port": 443, "tls": {
            "key": "k", "certificate": "c", "ca_certificates": ["ca.pem"],
            "require_client_certificate": false
        }
    }}));
    let config = valid(outcome);
    let Endpoint::Tcp { tls: Some(tls), .. } = &config.transports[0].endpoint else {
        panic!("no tls");
    };
    assert!(!tls.require_client_certificate);
}

#[test]
fn endpoints() {
    let endpoint_of = |endpoint: Value| -> Endpoint {
        let config = valid(transport(
            json!({"type": "rawsocket", "endpoint": endpoint}),
        ));
        config.transports[0].endpoint.clone()
    };
    assert_eq!(
        endpoint_of(json!({"type": "tcp", "port": 8081})),
        Endpoint::Tcp {
            interface: Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            port: 8081,
            backlog: 1024,
            tls: None
        }
    );
    assert_eq!(
        endpoint_of(json!({"type": "tcp", "port": 8081, "version": 6, "shared": true})),
        Endpoint::Tcp {
            interface: None,
            port: 8081,
            backlog: 1024,
            tls: None
        }
    );
    assert_eq!(
        endpoint_of(json!({"type": "tcp", "port": 8081, "interface": "::1", "backlog": 10})),
        Endpoint::Tcp {
            interface: Some("::1".parse().unwrap()),
            port: 8081,
            backlog: 10,
            tls: None
        }
    );
    assert_eq!(
        endpoint_of(json!({"type": "tcp", "port": "$WS_PORT"})),
        Endpoint::Tcp {
            interface: Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            port: 9000,
            backlog: 1024,
            tls: None
        }
    );
    assert_eq!(
        endpoint_of(json!({"type": "tcp", "port": "${WS_PORT}"})),
        Endpoint::Tcp {
            interface: Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            port: 9000,
            backlog: 1024,
            tls: None
        }
    );
    assert_eq!(
        endpoint_of(json!({"type": "unix", "path": "router.sock"})),
        Endpoint::Unix {
            path: PathBuf::from("/srv/node/router.sock")
        }
    );
    assert_eq!(
        endpoint_of(json!({"type": "unix", "path": "/run/ringbar.sock"})),
        Endpoint::Unix {
            path: PathBuf::from("/run/ringbar.sock")
        }
    );
}

#[test]
fn endpoint_errors() {
    let errors = |endpoint: Value| -> Vec<String> {
        transport(json!({"type": "rawsocket", "endpoint": endpoint})).errors
    };
    let e = "config.json: workers[0].transports[0].endpoint";
    assert_eq!(
        errors(
            json!({"type": "tcp", "port": 0, "backlog": 0, "version": 5, "interface": "localhost"})
        ),
        [
            format!("{e}.port: 0 is not a port (1-65535)"),
            format!("{e}.version: 5 is not an IP version (4, 6)"),
            format!(
                "{e}.interface: \"localhost\" is not an IP address (e.g. 127.0.0.1, ::1, 0.0.0.0)"
            ),
            format!("{e}.backlog: 0 is not a backlog (1-65535)"),
        ]
    );
    assert_eq!(
        errors(json!({"type": "tcp", "port": 443, "tls": {"key": "k"}})),
        [format!("{e}.tls: missing field `certificate`")]
    );
    assert_eq!(
        errors(json!({"type": "tcp", "port": 443,
                      "tls": {"key": "k", "certificate": "c", "require_client_certificate": true}})),
        [format!(
            "{e}.tls.require_client_certificate: client certificates need \"ca_certificates\" to check them against"
        )]
    );
    assert_eq!(
        errors(json!({"type": "tcp", "portrange": [8000, 8010]})),
        [format!(
            "{e}.portrange: port ranges are not supported yet: give one \"port\""
        )]
    );
    assert_eq!(
        errors(json!({"type": "tcp"})),
        [format!("{e}: missing \"port\"")]
    );
    assert_eq!(
        errors(json!({"type": "tcp", "port": "$NO_SUCH_VAR"})),
        [format!(
            "{e}.port: environment variable NO_SUCH_VAR is not set (the port is \"$NO_SUCH_VAR\")"
        )]
    );
    assert_eq!(
        errors(json!({"type": "tcp", "port": "$BAD_PORT"})),
        [format!(
            "{e}.port: \"http\" (from $BAD_PORT) is not a port (1-65535)"
        )]
    );
    assert_eq!(
        errors(json!({"type": "tcp", "port": "8080"})),
        [format!("{e}.port: \"8080\" is not a port (1-65535)")]
    );
    assert_eq!(
        errors(json!({"type": "tcp", "port": 8080, "version": 4, "interface": "::"})),
        [format!(
            "{e}.interface: :: is an IPv6 address but \"version\" is 4: set \"version\": 6"
        )]
    );
    assert_eq!(
        errors(json!({"type": "twisted", "server_string": "tcp:80"})),
        [format!(
            "{e}.type: \"twisted\" endpoints are not supported yet (tcp, unix)"
        )]
    );
    assert_eq!(
        errors(json!({"type": "udp", "port": 1})),
        [format!(
            "{e}.type: \"udp\" is not an endpoint type (tcp, unix)"
        )]
    );
    let outcome = transport(json!({"type": "rawsocket",
        "endpoint": {"type": "tcp", "port": 80, "user_timeout": 10}}));
    assert_eq!(
        outcome.warnings,
        [format!("{e}.user_timeout: not supported yet, ignored")]
    );
}
