//! `ringbar check DIR`.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::{Scratch, UNIX_CONFIG, run, text};

const BROKEN: &str = r#"{
    "version": 2,
    "workers": [{
        "type": "router",
        "realms": [
            {"name": "a b"},
            {"name": "realm1", "roles": [{"name": "r", "authorizer": ["com.example.authorize"]}]}
        ],
        "transports": [
            {"type": "websocket", "endpoint": {"type": "tcp", "port": 70000}, "serializers": ["json", "flatbuffers"]},
            {"type": "rawsocket", "endpoint": {"type": "tcp", "port": 8081, "tls": {}},
             "auth": {"ticket": {"type": "static"}}}
        ]
    }]
}"#;

#[test]
fn check_lists_every_error_and_exits_2() {
    let dir = Scratch::new("check-broken").with_config(BROKEN);
    let output = run(&["check", dir.arg()]);
    assert_eq!(output.status.code(), Some(2));
    let w = "error: config.json: workers[0]";
    assert_eq!(
        text(&output.stderr),
        [
            format!("{w}.realms[0].name: \"a b\" is not a valid realm URI (invalid character ' ' in URI component 0)"),
            format!("{w}.realms[1].roles[0].authorizer: [\"com.example.authorize\"] is not a procedure URI (the dynamic authorizer)"),
            format!("{w}.transports[0].endpoint.port: 70000 is not a port (1-65535)"),
            format!("{w}.transports[0].serializers[1]: \"flatbuffers\" is not supported (json, msgpack, cbor, ubjson)"),
            format!("{w}.transports[1].endpoint.tls: missing field `key`"),
            format!("{w}.transports[1].auth.ticket: missing \"principals\": the principals by authid"),
            "ringbar: the config has 6 errors.".to_owned(),
            String::new(),
        ]
        .join("\n")
    );
    assert_eq!(text(&output.stdout), "");
}

#[test]
fn a_typo_is_an_error_with_the_nearest_key_and_exits_2() {
    let config = UNIX_CONFIG.replacen("\"realms\"", "\"realmz\"", 1);
    let dir = Scratch::new("check-typo").with_config(&config);
    let output = run(&["check", dir.arg()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(
            "error: config.json: workers[0].realmz: unknown key: did you mean `realms`?\n"
        ),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("ringbar: the config has 1 error.\n"),
        "{stderr}"
    );
    assert_eq!(text(&output.stdout), "");
}

#[test]
fn crossbar_keys_ringbar_does_not_use_warn_and_pass() {
    let config = UNIX_CONFIG.replacen(
        "\"type\": \"router\",",
        "\"type\": \"router\", \"options\": {\"cpu_affinity\": [0]},",
        1,
    );
    let dir = Scratch::new("check-ignored").with_config(&config);
    let output = run(&["check", dir.arg()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stderr),
        "warning: config.json: workers[0].options.cpu_affinity: a Crossbar.io worker process option, not used by ringbar; ignored\n"
    );
    assert_eq!(
        text(&output.stdout),
        format!(
            "Ok, {}/config.json is valid: 1 realm, 1 transport.\n",
            dir.arg()
        )
    );
}

#[test]
fn check_takes_cbdir_and_config() {
    let dir = Scratch::new("check-config").with_config("not a config");
    std::fs::write(dir.path.join("other.json"), UNIX_CONFIG).unwrap();
    let output = run(&["check", "--cbdir", dir.arg(), "--config", "other.json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        format!(
            "Ok, {}/other.json is valid: 1 realm, 1 transport.\n",
            dir.arg()
        )
    );
    // Without --config, the directory's own (broken) config.json is read.
    let output = run(&["check", "--cbdir", dir.arg()]);
    assert_eq!(output.status.code(), Some(2));
    let output = run(&["check", dir.arg(), "--config", "other.txt"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        text(&output.stderr),
        format!(
            "ringbar: {}/other.txt: not a config file name: ringbar reads a .json or a .yaml file\n",
            dir.arg()
        )
    );
}

#[test]
fn yaml_configs_are_checked() {
    let dir = Scratch::new("check-yaml");
    std::fs::create_dir_all(&dir.path).unwrap();
    std::fs::write(
        dir.path.join("config.yaml"),
        "version: 2\nworkers:\n  - type: router\n    realms: [{name: realm1}]\n    transports:\n      - {type: rawsocket, endpoint: {type: tcp, port: 99999}}\n",
    )
    .unwrap();
    let output = run(&["check", dir.arg()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains(
            "error: config.yaml: workers[0].transports[0].endpoint.port: 99999 is not a port (1-65535)\n"
        ),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn a_syntax_error_or_a_missing_config_exits_2() {
    let dir = Scratch::new("check-syntax").with_config("{\"version\": 2,");
    let output = run(&["check", dir.arg()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr)
            .contains("config.json: not valid JSON: EOF while parsing a value at line 1 column 14"),
        "{}",
        text(&output.stderr)
    );
    let missing = Scratch::new("check-missing");
    let output = run(&["check", missing.arg()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("no config.json or config.yaml in"));
}

#[test]
fn unreadable_tls_files_are_named() {
    let config = r#"{"version": 2, "workers": [{"type": "router",
        "realms": [{"name": "realm1", "roles": [{"name": "anonymous"}]}],
        "transports": [{"type": "rawsocket", "id": "secure",
            "endpoint": {"type": "tcp", "port": 8443,
                         "tls": {"key": "no-such.key", "certificate": "no-such.crt"}}}]}]}"#;
    let dir = Scratch::new("check-tls").with_config(config);
    let output = run(&["check", dir.arg()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with("error: transport secure: TLS: ") && stderr.contains("no-such.crt: "),
        "{stderr}"
    );
}
