//! Guest workers (`"type": "guest"`): external programs the node starts
//! beside the router and supervises, in Crossbar.io's format plus ringbar's
//! `restart` policy.
//!
//! Read in a pass of their own over `workers`, after the router's
//! conversion, so the router's part of the config stays unaware of them.

mod path;
mod process;
mod restart;

use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};

use serde_json::Value;

use super::convert::Env;
use super::diag::{Diagnostics, Path};
use super::file::{GuestOptionsFile, GuestWorkerFile};
use super::read::{Accept, read_with};
use super::workers::{Numbered, numbered};

pub(crate) use process::{Inherit, OutputPolicy, ProcessEnv, StdinPolicy};
pub(crate) use restart::{Restart, RestartPolicy};

/// The longest worker id, so that log lines stay readable.
const MAX_ID_CHARS: usize = 64;

/// One guest worker, checked and with its paths resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GuestWorker {
    /// The worker's name in logs and `ringbar status`: its `id`, else
    /// `worker<NNN>` numbered as Crossbar.io numbers workers without one.
    pub(crate) id: String,
    /// The program, as an absolute path.
    pub(crate) executable: PathBuf,
    /// Its arguments.
    pub(crate) arguments: Vec<String>,
    /// Its working directory, absolute.
    pub(crate) workdir: PathBuf,
    /// Its environment.
    pub(crate) env: ProcessEnv,
    /// What it reads on stdin.
    pub(crate) stdin: StdinPolicy,
    /// What becomes of its stdout.
    pub(crate) stdout: OutputPolicy,
    /// What becomes of its stderr.
    pub(crate) stderr: OutputPolicy,
    /// When it is started again after it ends.
    pub(crate) restart: Restart,
}

/// Whether `worker` is a guest worker (a `type` of `"guest"`).
pub(crate) fn is_guest(worker: &Value) -> bool {
    worker.get("type").and_then(Value::as_str) == Some("guest")
}

/// Reads every guest worker of the config `root` of the node directory
/// `dir`; errors and warnings go to `diag` with their paths. `env` gives
/// `PATH` for finding executables.
pub(crate) fn from_root(
    root: &Value,
    dir: &FsPath,
    env: Env<'_>,
    diag: &mut Diagnostics,
) -> Vec<GuestWorker> {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut guests = Vec::new();
    let mut ids: HashMap<String, Path> = HashMap::new();
    for Numbered {
        path,
        worker,
        default_id,
    } in numbered(root)
    {
        if !is_guest(worker) {
            continue;
        }
        let Some(guest) = guest(worker, &path, &dir, env, default_id, diag) else {
            continue;
        };
        if let Some(first) = ids.get(&guest.id) {
            diag.error(
                &path.key("id"),
                format!(
                    "worker id \"{}\" is used twice (also at {first}): give each guest worker its own id",
                    guest.id
                ),
            );
            continue;
        }
        ids.insert(guest.id.clone(), path);
        guests.push(guest);
    }
    guests
}

/// One guest worker at `path`.
fn guest(
    worker: &Value,
    path: &Path,
    dir: &FsPath,
    env: Env<'_>,
    default_id: Option<String>,
    diag: &mut Diagnostics,
) -> Option<GuestWorker> {
    let file: GuestWorkerFile = read_with(worker, path, diag, Accept::silent(&["type"]))?;
    let errors_before = diag.error_count();
    let id = match file.id {
        Some(id) => check_id(id, &path.key("id"), diag),
        None => default_id,
    };
    let options_path = path.key("options");
    let accept = Accept {
        silent: &[],
        ignored: &["watch"],
        ignored_message: "not supported: ringbar does not watch directories for changes; ignored (`ringbar stop` and `start` restart the guest)",
    };
    let options: GuestOptionsFile = match &file.options {
        Some(value) => read_with(value, &options_path, diag, accept)?,
        None => GuestOptionsFile::default(),
    };
    let workdir = path::workdir(dir, options.workdir.as_deref(), &options_path, diag);
    let executable = workdir.as_deref().and_then(|workdir| {
        path::executable(
            &file.executable,
            workdir,
            env,
            &path.key("executable"),
            diag,
        )
    });
    let process_env = process::env(options.env.as_ref(), &options_path.key("env"), diag);
    let stdin = process::stdin(options.stdin.as_ref(), &options_path.key("stdin"), diag);
    let stdout = process::output(options.stdout.as_deref(), &options_path.key("stdout"), diag);
    let stderr = process::output(options.stderr.as_deref(), &options_path.key("stderr"), diag);
    let restart = restart::convert(file.restart.as_ref(), &path.key("restart"), diag);
    if diag.error_count() != errors_before {
        return None;
    }
    Some(GuestWorker {
        id: id?,
        executable: executable?,
        arguments: file.arguments,
        workdir: workdir?,
        env: process_env?,
        stdin: stdin?,
        stdout: stdout?,
        stderr: stderr?,
        restart: restart?,
    })
}

/// A worker id: any printable text of up to 64 characters (Crossbar.io
/// does not restrict guest ids; they only name the worker).
pub(crate) fn check_id(id: String, path: &Path, diag: &mut Diagnostics) -> Option<String> {
    let length = id.chars().count();
    if (1..=MAX_ID_CHARS).contains(&length) && !id.chars().any(char::is_control) {
        Some(id)
    } else {
        diag.error(
            path,
            format!(
                "{id:?} is not a worker id (1 to {MAX_ID_CHARS} printable characters, e.g. \"backend\")"
            ),
        );
        None
    }
}

#[cfg(test)]
mod tests;
