//! The configuration a newly paired node gets: `DIR/node-config.json` of
//! the management directory (written by `ringbar management init`, edited
//! by the operator), checked with the node's own config reader before it
//! is sent (its shape: the node checks its environment and files).

use std::path::Path;

use crate::config;
use crate::config::default::DEFAULT_CONFIG_JSON;

/// The file in the management directory.
pub(crate) const NODE_CONFIG_FILE: &str = "node-config.json";

/// The transports of the default: WAMP over WebSocket on 127.0.0.1:8080
/// (any path) with JSON, MessagePack and CBOR.
const DEFAULT_TRANSPORTS_JSON: &str = r#"[{
    "type": "websocket",
    "endpoint": {"type": "tcp", "interface": "127.0.0.1", "port": 8080},
    "serializers": ["json", "msgpack", "cbor"]
}]"#;

/// The default: `ringbar init`'s config (the realm `realm1` whose
/// anonymous role may do everything) with one WebSocket transport on
/// 127.0.0.1:8080 and without its node-wide `"ringbar"` settings, as
/// pretty JSON.
pub(crate) fn default_text() -> Result<String, String> {
    let mut config: serde_json::Value =
        serde_json::from_str(DEFAULT_CONFIG_JSON).map_err(|e| e.to_string())?;
    let transports: serde_json::Value =
        serde_json::from_str(DEFAULT_TRANSPORTS_JSON).map_err(|e| e.to_string())?;
    // Node-wide settings (`"ringbar"`) stay the node's own: a managed
    // config is the router's.
    if let Some(fields) = config.as_object_mut() {
        fields.remove("ringbar");
    }
    let router = config
        .get_mut("workers")
        .and_then(|workers| workers.get_mut(0))
        .and_then(serde_json::Value::as_object_mut)
        .ok_or("the default config has no router worker")?;
    router.insert("transports".to_owned(), transports);
    serde_json::to_string_pretty(&config).map_err(|e| e.to_string())
}

/// The config for newly paired nodes, checked.
pub(crate) fn read(dir: &Path) -> Result<serde_json::Value, String> {
    let path = dir.join(NODE_CONFIG_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => default_text()?,
        Err(error) => return Err(format!("cannot read {}: {error}", path.display())),
    };
    check(dir, NODE_CONFIG_FILE, &text).map_err(|e| format!("{}: {e}", path.display()))
}

/// `text`, named `file` in errors, as a JSON value when it is a valid node
/// config; else every error, one per line. Its shape is checked: the
/// environment variables and files it names are the node's, which checks
/// them itself.
pub(crate) fn check(dir: &Path, file: &str, text: &str) -> Result<serde_json::Value, String> {
    config::check_json_elsewhere(dir, dir.join(file), text).map_err(|e| e.to_string())?;
    serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_init_s_realm_with_one_websocket_transport() {
        let text = default_text().unwrap();
        let dir = std::env::temp_dir();
        let config = check(&dir, NODE_CONFIG_FILE, &text).unwrap();
        let router = &config["workers"][0];
        assert_eq!(router["realms"][0]["name"], "realm1");
        assert_eq!(router["transports"].as_array().map(Vec::len), Some(1));
        assert_eq!(router["transports"][0]["type"], "websocket");
        assert_eq!(router["transports"][0]["endpoint"]["port"], 8080);
        assert!(config.get("ringbar").is_none());
    }

    /// A PostgreSQL bridge whose password and CA are the node's own (its
    /// environment, its files) is handed out: the node checks them.
    #[test]
    fn a_bridge_s_environment_and_files_are_left_to_the_node() {
        let dir = std::env::temp_dir().join(format!("ringbar-node-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut config: serde_json::Value = serde_json::from_str(&default_text().unwrap()).unwrap();
        let database = |password: (&str, &str)| {
            let mut database = serde_json::json!({
                "host": "db.example.com", "dbname": "app", "user": "app",
                "sslmode": "verify-full", "sslrootcert": "only-on-the-node/ca.pem"
            });
            database[password.0] = password.1.into();
            database
        };
        for password in [
            ("password_env", "RINGBAR_TEST_SET_ONLY_ON_THE_NODE"),
            ("password_file", "only-on-the-node/password"),
        ] {
            let workers = config["workers"].as_array_mut().unwrap();
            workers.truncate(1);
            workers.push(serde_json::json!({
                "type": "postgresql-bridge",
                "id": "pg1",
                "router": {"realm": "realm1", "authid": "pgbridge"},
                "database": database(password),
                "publisher": true
            }));
            let text = config.to_string();
            let checked = check(&dir, "config.json", &text);
            assert!(checked.is_ok(), "{password:?}: {checked:?}");
            // The node that runs it does check them.
            let error = config::load_json(
                &dir,
                dir.join("config.json"),
                &text,
                config::Overrides::default(),
            )
            .map(drop)
            .unwrap_err()
            .to_string();
            assert!(error.contains(password.0), "{error}");
            assert!(error.contains("sslrootcert"), "{error}");
        }
        // Its shape is still checked.
        config["workers"][1]["database"]["port"] = 70000.into();
        let error = check(&dir, "config.json", &config.to_string()).unwrap_err();
        assert!(error.contains("workers[1].database.port"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
