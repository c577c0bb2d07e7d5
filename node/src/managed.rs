//! A configuration from the management service, and what it may not do
//! that a local one may: serve the node directory (where `key.priv` lives)
//! or any folder above it through a static web path. The node checks this
//! itself, on every configuration pushed and on the cached one at start:
//! it trusts its own files, not what arrives over the network.

use std::path::{Component, Path, PathBuf};

use crate::config::{self, LoadError, Loaded, Overrides};

/// Where the configuration from the management service is cached.
pub(crate) const MANAGED_CONFIG_FILE: &str = "managed-config.json";

/// Why a managed configuration is refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ManagedError {
    /// It is not a valid configuration.
    #[error("{0}")]
    Invalid(LoadError),
    /// A static web path would serve the node directory.
    #[error(
        "{file}: {path}.directory: {} is the node directory {} or a folder above it, which holds the node's private key: a configuration from the management service may serve only folders inside the node directory or elsewhere",
        directory.display(), node.display()
    )]
    ServesNodeDirectory {
        /// The cached file's name.
        file: &'static str,
        /// The JSON path of the static service.
        path: String,
        /// The directory it would serve, resolved.
        directory: PathBuf,
        /// The node directory, resolved.
        node: PathBuf,
    },
}

/// The path where the node caches its managed configuration.
pub(crate) fn path(dir: &Path) -> PathBuf {
    dir.join(MANAGED_CONFIG_FILE)
}

/// Reads `text`, a configuration from the management service, for the
/// node directory `dir`, and refuses one that serves `dir`.
pub(crate) fn load(dir: &Path, text: &str, overrides: Overrides) -> Result<Loaded, ManagedError> {
    let loaded =
        config::load_json(dir, path(dir), text, overrides).map_err(ManagedError::Invalid)?;
    // load_json parsed the same text: it is JSON
    let root: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    let node = resolve(dir);
    let mut statics = Vec::new();
    static_directories(&root, String::new(), &mut statics);
    for (path, directory) in statics {
        let directory = resolve(&dir.join(directory));
        if node.starts_with(&directory) {
            return Err(ManagedError::ServesNodeDirectory {
                file: MANAGED_CONFIG_FILE,
                path,
                directory,
                node,
            });
        }
    }
    Ok(loaded)
}

/// Every `{"type": "static", "directory": ...}` below `value` (wherever a
/// web path or a universal transport nests it), with its JSON path.
fn static_directories(value: &serde_json::Value, at: String, found: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Object(fields) => {
            if fields.get("type").and_then(|t| t.as_str()) == Some("static")
                && let Some(directory) = fields.get("directory").and_then(|d| d.as_str())
            {
                found.push((at.clone(), directory.to_owned()));
            }
            for (key, child) in fields {
                let path = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                static_directories(child, path, found);
            }
        }
        serde_json::Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                static_directories(item, format!("{at}[{index}]"), found);
            }
        }
        _ => {}
    }
}

/// `path` with symlinks and `..` resolved: its longest existing ancestor
/// canonicalized, the rest (not there yet) applied component by component.
fn resolve(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    let mut resolved = loop {
        if let Ok(canonical) = existing.canonicalize() {
            break canonical;
        }
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_owned());
                existing = parent.to_path_buf();
            }
            // `..` at the end, or no existing ancestor: resolve by the
            // words alone, from the working directory
            _ => break std::env::current_dir().unwrap_or_default(),
        }
    };
    for name in rest.iter().rev() {
        match Path::new(name).components().next() {
            Some(Component::ParentDir) => {
                resolved.pop();
            }
            Some(Component::CurDir) | None => {}
            Some(_) => resolved.push(name),
        }
    }
    resolved
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A managed config whose web transport serves `directory` at
    /// `/files`, below a nested path service.
    fn serving(directory: &str) -> String {
        serde_json::json!({
            "version": 2,
            "workers": [{
                "type": "router",
                "realms": [{"name": "realm1", "roles": [{"name": "anonymous", "permissions": [
                    {"uri": "", "match": "prefix", "allow": {"call": true}}
                ]}]}],
                "transports": [{
                    "type": "web",
                    "endpoint": {"type": "tcp", "port": 8080},
                    "paths": {
                        "ws": {"type": "websocket"},
                        "app": {"type": "path", "paths": {
                            "files": {"type": "static", "directory": directory}
                        }}
                    }
                }]
            }]
        })
        .to_string()
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir()
            .join(format!("ringbar-managed-{name}-{}", std::process::id()))
            .join("node");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("web")).unwrap();
        dir
    }

    #[test]
    fn the_node_directory_and_its_parents_are_refused_however_named() {
        let dir = scratch("refused");
        let outside = dir.parent().unwrap().join("elsewhere");
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&dir, outside.join("link")).unwrap();
        let link = outside.join("link").to_string_lossy().into_owned();
        let parent = dir.parent().unwrap().to_string_lossy().into_owned();
        for directory in [".", "", "./", "web/..", "..", "../..", "/", &link, &parent] {
            let error = load(&dir, &serving(directory), Overrides::default())
                .err()
                .unwrap_or_else(|| panic!("{directory:?} was accepted"));
            let text = error.to_string();
            assert!(
                text.starts_with(
                    "managed-config.json: workers[0].transports[0].paths.app.paths.files.directory: "
                ),
                "{directory:?}: {text}"
            );
            assert!(text.contains("node's private key"), "{text}");
        }
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn folders_inside_or_beside_the_node_directory_are_served() {
        let dir = scratch("served");
        let beside = dir.parent().unwrap().join("site");
        std::fs::create_dir_all(&beside).unwrap();
        let beside = beside.to_string_lossy().into_owned();
        for directory in ["web", "./web", "web/not-yet", "../site", &beside] {
            let loaded = load(&dir, &serving(directory), Overrides::default());
            assert!(loaded.is_ok(), "{directory:?}: {:?}", loaded.err());
        }
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }
}
