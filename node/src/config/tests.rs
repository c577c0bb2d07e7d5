//! Loading config files: which file, JSON and YAML, syntax errors.

use std::fs;
use std::path::PathBuf;

use super::default::DEFAULT_CONFIG_JSON;
use super::{LoadError, Overrides, load_with_env};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ringbar-config-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn no_env(_: &str) -> Option<String> {
    None
}

const YAML: &str = "\
version: 2
workers:
  - type: router
    realms:
      - name: realm1
        roles:
          - name: anonymous
            permissions:
              - uri: ''
                match: prefix
                allow: {call: true, register: true, publish: true, subscribe: true}
    transports:
      - type: rawsocket
        endpoint: {type: tcp, port: 8081, user_timeout: 1000}
";

#[test]
fn json_is_read() {
    let dir = temp_dir("json");
    fs::write(dir.join("config.json"), DEFAULT_CONFIG_JSON).unwrap();
    let loaded = load_with_env(&dir, None, Overrides::default(), &no_env).unwrap();
    assert_eq!(loaded.path, dir.join("config.json"));
    assert!(loaded.warnings.is_empty());
    assert_eq!(loaded.router.transports.len(), 2);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn yaml_is_read_when_there_is_no_json() {
    let dir = temp_dir("yaml");
    fs::write(dir.join("config.yaml"), YAML).unwrap();
    let loaded = load_with_env(&dir, None, Overrides::default(), &no_env).unwrap();
    assert_eq!(loaded.path, dir.join("config.yaml"));
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        ["config.yaml: workers[0].transports[0].endpoint.user_timeout: not supported yet, ignored"]
    );
    assert_eq!(loaded.router.realms[0].name, "realm1");

    fs::write(dir.join("config.json"), DEFAULT_CONFIG_JSON).unwrap();
    let loaded = load_with_env(&dir, None, Overrides::default(), &no_env).unwrap();
    assert_eq!(loaded.path, dir.join("config.json"));
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        ["config.json: config.yaml is ignored: config.json is read when both exist"]
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn syntax_errors_name_line_and_column() {
    let dir = temp_dir("syntax");
    fs::write(dir.join("config.json"), "{\n  \"version\": 2,\n}\n").unwrap();
    let error = load_with_env(&dir, None, Overrides::default(), &no_env).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{}: not valid JSON: trailing comma at line 3 column 1",
            dir.join("config.json").display()
        )
    );
    fs::remove_file(dir.join("config.json")).unwrap();
    fs::write(dir.join("config.yaml"), "version: [2\n").unwrap();
    let error = load_with_env(&dir, None, Overrides::default(), &no_env).unwrap_err();
    assert!(matches!(error, LoadError::Syntax { .. }), "{error}");
    assert!(error.to_string().contains("not valid YAML"), "{error}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_config_says_how_to_make_one() {
    let dir = temp_dir("missing");
    let error = load_with_env(&dir, None, Overrides::default(), &no_env).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "no config.json or config.yaml in {0} (`ringbar init {0}` writes one)",
            dir.display()
        )
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn overrides_apply() {
    let dir = temp_dir("overrides");
    fs::write(dir.join("config.json"), DEFAULT_CONFIG_JSON).unwrap();
    let overrides = Overrides {
        cores: Some(3),
        io: Some(ringbar_engine::config::IoBackend::Epoll),
    };
    let loaded = load_with_env(&dir, None, overrides, &no_env).unwrap();
    assert_eq!(loaded.router.cores, 3);
    assert_eq!(loaded.router.io, ringbar_engine::config::IoBackend::Epoll);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_named_file_is_read_instead() {
    let dir = temp_dir("named");
    fs::write(dir.join("config.json"), "not even JSON").unwrap();
    fs::create_dir_all(dir.join("conf")).unwrap();
    fs::write(dir.join("conf/other.yaml"), YAML).unwrap();
    let file = dir.join("conf/other.yaml");
    let loaded = load_with_env(&dir, Some(&file), Overrides::default(), &no_env).unwrap();
    assert_eq!(loaded.path, file);
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        ["other.yaml: workers[0].transports[0].endpoint.user_timeout: not supported yet, ignored"]
    );

    let missing = dir.join("nope.json");
    let error = load_with_env(&dir, Some(&missing), Overrides::default(), &no_env).unwrap_err();
    assert!(matches!(error, LoadError::Read { .. }), "{error}");
    let text = dir.join("config.txt");
    let error = load_with_env(&dir, Some(&text), Overrides::default(), &no_env).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{}: not a config file name: ringbar reads a .json or a .yaml file",
            text.display()
        )
    );
    fs::remove_dir_all(&dir).unwrap();
}
