//! `ringbar init DIR`: a new node directory with the default config and
//! the instance key pair.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::config::CONFIG_FILES;
use crate::config::default::DEFAULT_CONFIG_JSON;
use crate::key::{self, KeyError, KeyOrigin, pinned};

/// Why a node directory could not be initialised.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InitError {
    /// The directory already has a config, which `init` never overwrites.
    #[error(
        "{} exists already; ringbar init does not overwrite it (use another directory, or move the file away)",
        .0.display()
    )]
    ConfigExists(PathBuf),
    /// A file or the directory could not be written.
    #[error("{}: {source}", path.display())]
    Io {
        /// What could not be written.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// The instance key could not be made or read.
    #[error("instance key: {0}")]
    Key(#[from] KeyError),
}

/// How a new node reaches its management service.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UplinkSetup<'a> {
    /// A checked WebSocket URL: `ringbar.management.url`.
    pub(crate) url: &'a str,
    /// The service's public key, pinned in the node directory.
    pub(crate) key: Option<[u8; 32]>,
    /// The CA file for a `wss://` service: `ringbar.management.ca_certificates`.
    pub(crate) ca: Option<&'a Path>,
}

/// Creates `dir` (and its parents) with `config.json` and the instance key
/// pair; an existing key pair is kept. With `management`, the config has
/// the uplink and the service's key, when given, is pinned.
pub(crate) fn init(dir: &Path, management: Option<UplinkSetup<'_>>) -> Result<(), InitError> {
    // a CA file named relative to here must still be found from the node
    // directory
    let ca = management
        .and_then(|setup| setup.ca)
        .map(|ca| {
            fs::canonicalize(ca).map_err(|source| InitError::Io {
                path: ca.to_path_buf(),
                source,
            })
        })
        .transpose()?;
    create(
        dir,
        &config_text(management.map(|setup| setup.url), ca.as_deref()),
    )?;
    if let Some(key) = management.and_then(|setup| setup.key) {
        let path = pinned::store(dir, key, "given to ringbar init --management-key")?;
        tracing::info!(
            "Management service key {} pinned in {}.",
            hex::encode(key),
            path.display()
        );
    }
    Ok(())
}

/// Creates `dir` (and its parents) with `config.json` = `config` and the
/// instance key pair; an existing key pair is kept, an existing config is
/// never overwritten.
pub(crate) fn create(dir: &Path, config: &str) -> Result<(), InitError> {
    if let Some(existing) = CONFIG_FILES
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.exists())
    {
        return Err(InitError::ConfigExists(existing));
    }
    fs::create_dir_all(dir).map_err(|source| InitError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let config_path = dir.join(CONFIG_FILES[0]);
    let io_error = |source| InitError::Io {
        path: config_path.clone(),
        source,
    };
    // `create_new`: another process that wrote a config meanwhile wins.
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&config_path)
        .map_err(io_error)?;
    file.write_all(config.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_error)?;
    tracing::info!("Node directory {} initialised.", dir.display());
    instance_key(dir)?;
    Ok(())
}

/// The default config, with the uplink to `management` (its CA file `ca`)
/// when given.
fn config_text(management: Option<&str>, ca: Option<&Path>) -> String {
    let Some(url) = management else {
        return DEFAULT_CONFIG_JSON.to_owned();
    };
    let mut fields = format!("\"url\": {}", serde_json::Value::from(url));
    if let Some(ca) = ca {
        let ca = serde_json::Value::from(ca.to_string_lossy().as_ref());
        fields.push_str(&format!(",\n            \"ca_certificates\": [{ca}]"));
    }
    // Added as text into the default's `ringbar` object, so the file keeps
    // the default's layout and order.
    let ringbar = "\n    \"ringbar\": {\n";
    DEFAULT_CONFIG_JSON.replacen(
        ringbar,
        &format!("{ringbar}        \"management\": {{\n            {fields}\n        }},\n"),
        1,
    )
}

/// Loads the instance key of `dir`, generating it when missing, and logs
/// which.
pub(crate) fn instance_key(dir: &Path) -> Result<key::InstanceKey, KeyError> {
    let (key, origin) = key::load_or_generate(dir)?;
    match origin {
        KeyOrigin::Generated => tracing::info!("Instance key generated."),
        KeyOrigin::Loaded => tracing::info!("Instance key loaded."),
    }
    tracing::debug!("Instance public key: {}", key.public_hex());
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_uplink_is_added_to_the_default_config() {
        let plain: serde_json::Value = serde_json::from_str(&config_text(None, None)).unwrap();
        let text = config_text(Some("ws://127.0.0.1:9000/ws"), None);
        let mut with: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            with["ringbar"]["management"]["url"],
            "ws://127.0.0.1:9000/ws"
        );
        assert_eq!(
            with["ringbar"]["metrics"], plain["ringbar"]["metrics"],
            "the metrics stay"
        );
        with["ringbar"]
            .as_object_mut()
            .unwrap()
            .remove("management");
        assert_eq!(with, plain, "nothing else changes");
        assert!(text.ends_with("    }\n}\n"), "{text}");
        let text = config_text(Some("wss://m/ws"), Some(Path::new("/etc/ca \"1\".pem")));
        let with: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            with["ringbar"]["management"]["ca_certificates"],
            serde_json::json!(["/etc/ca \"1\".pem"])
        );
    }
}
