//! The node's configuration: Crossbar.io's `config.json` (version 2) or
//! `config.yaml` in the node directory, plus ringbar's `"ringbar"` section,
//! checked with a path for every error and turned into the engine's
//! [`RouterConfig`].

pub(crate) mod bridge;
mod cluster;
mod convert;
pub(crate) mod default;
pub(crate) mod diag;
mod file;
pub(crate) mod guest;
pub(crate) mod metrics;
mod read;
pub(crate) mod settings;
mod suggest;
mod unknown;
pub(crate) mod uplink;
mod workers;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use ringbar_engine::config::RouterConfig;
use serde_json::Value;

use diag::{Diagnostic, Diagnostics, ReadOn};
pub(crate) use settings::Overrides;

/// The config file names, in the order they are looked for.
pub(crate) const CONFIG_FILES: [&str; 2] = ["config.json", "config.yaml"];

/// A valid config, ready to run.
#[derive(Debug)]
pub(crate) struct Loaded {
    /// What the engine runs.
    pub(crate) router: RouterConfig,
    /// The management service to connect to (`ringbar.management`).
    pub(crate) uplink: Option<uplink::Uplink>,
    /// Where to serve the metrics (`ringbar.metrics`), when anywhere.
    pub(crate) metrics: Option<metrics::Metrics>,
    /// The guest workers to start beside the router.
    pub(crate) guests: Vec<guest::GuestWorker>,
    /// The bridge workers to start beside the router.
    pub(crate) bridges: Vec<ringbar_bridges::config::BridgeWorker>,
    /// The file it came from.
    pub(crate) path: PathBuf,
    /// What was accepted but deserves a look.
    pub(crate) warnings: Vec<Diagnostic>,
}

/// Why no config could be loaded.
#[derive(Debug)]
pub(crate) enum LoadError {
    /// The node directory has no config file.
    Missing {
        /// The node directory.
        dir: PathBuf,
    },
    /// The file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// The file named is neither `.json` nor `.yaml`.
    Extension {
        /// The file.
        path: PathBuf,
    },
    /// The file is not valid JSON or YAML.
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The file parses but is not a valid config.
    Invalid {
        /// Every error, in file order.
        errors: Vec<Diagnostic>,
        /// The warnings found on the way.
        warnings: Vec<Diagnostic>,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Missing { dir } => write!(
                f,
                "no config.json or config.yaml in {} (`ringbar init {}` writes one)",
                dir.display(),
                dir.display()
            ),
            LoadError::Read { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            LoadError::Extension { path } => write!(
                f,
                "{}: not a config file name: ringbar reads a .json or a .yaml file",
                path.display()
            ),
            LoadError::Syntax { path, message } => write!(f, "{}: {message}", path.display()),
            LoadError::Invalid { errors, .. } => {
                for (at, error) in errors.iter().enumerate() {
                    if at > 0 {
                        f.write_str("\n")?;
                    }
                    write!(f, "{error}")?;
                }
                Ok(())
            }
        }
    }
}

/// Loads the config of the node directory `dir`: `file` when given (a
/// path that already holds `dir`), else `config.json`, else
/// `config.yaml`. `"$VAR"` ports are read from the process environment.
pub(crate) fn load(
    dir: &Path,
    file: Option<&Path>,
    overrides: Overrides,
) -> Result<Loaded, LoadError> {
    let env = |name: &str| std::env::var(name).ok();
    load_with_env(dir, file, overrides, &env)
}

/// [`load`] with the environment given.
pub(crate) fn load_with_env(
    dir: &Path,
    file: Option<&Path>,
    overrides: Overrides,
    env: convert::Env<'_>,
) -> Result<Loaded, LoadError> {
    let path = config_file(dir, file)?;
    let text = std::fs::read_to_string(&path).map_err(|source| LoadError::Read {
        path: path.clone(),
        source,
    })?;
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut diag = Diagnostics::new(&name);
    if file.is_none() && name == CONFIG_FILES[0] && dir.join(CONFIG_FILES[1]).exists() {
        diag.warn(
            &diag::Path::root(),
            "config.yaml is ignored: config.json is read when both exist",
        );
    }
    from_text(dir, path, &text, overrides, env, diag)
}

/// Reads a JSON config that did not come from `dir`'s config file (one a
/// management service sent, cached as `path`), as [`load`] reads a file.
pub(crate) fn load_json(
    dir: &Path,
    path: PathBuf,
    text: &str,
    overrides: Overrides,
) -> Result<Loaded, LoadError> {
    json_read_on(dir, path, text, overrides, ReadOn::TheNode)
}

/// Checks a JSON config that another node will run (one a management
/// service hands out), named `path` in errors: its shape only. The
/// environment variables and files it names are that node's, which
/// checks them when it reads the config ([`load_json`]).
pub(crate) fn check_json_elsewhere(dir: &Path, path: PathBuf, text: &str) -> Result<(), LoadError> {
    json_read_on(dir, path, text, Overrides::default(), ReadOn::Elsewhere).map(drop)
}

/// A JSON config read where `read_on` says.
fn json_read_on(
    dir: &Path,
    path: PathBuf,
    text: &str,
    overrides: Overrides,
    read_on: ReadOn,
) -> Result<Loaded, LoadError> {
    let env = |name: &str| std::env::var(name).ok();
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or(CONFIG_FILES[0])
        .to_owned();
    let diag = Diagnostics::read_on(&name, read_on);
    from_text(dir, path, text, overrides, &env, diag)
}

/// The config of the text of `path`, JSON (YAML when `path` ends with
/// `.yaml`).
fn from_text(
    dir: &Path,
    path: PathBuf,
    text: &str,
    overrides: Overrides,
    env: convert::Env<'_>,
    mut diag: Diagnostics,
) -> Result<Loaded, LoadError> {
    let name = path.to_string_lossy().into_owned();
    let root = parse(text, &name).map_err(|message| LoadError::Syntax {
        path: path.clone(),
        message,
    })?;
    let mut router = convert::convert(&root, dir, env, overrides, &mut diag);
    let bridges = bridge::from_root(&root, dir, env, router.as_mut(), &mut diag);
    let uplink = uplink::from_root(&root, dir, &mut diag);
    let metrics = metrics::from_root(&root, dir, env, &mut diag);
    let guests = guest::from_root(&root, dir, env, &mut diag);
    let (errors, warnings) = diag.into_parts();
    match router {
        Some(router) if errors.is_empty() => Ok(Loaded {
            router,
            uplink,
            metrics,
            guests,
            bridges,
            path,
            warnings,
        }),
        _ => Err(LoadError::Invalid { errors, warnings }),
    }
}

/// The config file to read: `file` when given (a `.json` or `.yaml` file,
/// as Crossbar.io reads), else `dir`'s `config.json`, else its
/// `config.yaml`.
pub(crate) fn config_file(dir: &Path, file: Option<&Path>) -> Result<PathBuf, LoadError> {
    match file {
        Some(file) => match file.extension().and_then(|e| e.to_str()) {
            Some("json" | "yaml") => Ok(file.to_path_buf()),
            _ => Err(LoadError::Extension {
                path: file.to_path_buf(),
            }),
        },
        None => CONFIG_FILES
            .into_iter()
            .map(|name| dir.join(name))
            .find(|path| path.is_file())
            .ok_or_else(|| LoadError::Missing {
                dir: dir.to_path_buf(),
            }),
    }
}

/// Parses JSON, or YAML for a `.yaml` file, into one value tree.
fn parse(text: &str, name: &str) -> Result<Value, String> {
    if name.ends_with(".yaml") {
        serde_yaml_ng::from_str(text).map_err(|e| format!("not valid YAML: {e}"))
    } else {
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))
    }
}

#[cfg(test)]
mod tests;
