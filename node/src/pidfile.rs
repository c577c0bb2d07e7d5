//! `DIR/node.pid`: marks a running node, so that a second `ringbar start`
//! on the same directory refuses. The content is Crossbar.io's:
//! `{"pid": 1234, "argv": [...]}`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The file name in the node directory.
pub(crate) const PID_FILE: &str = "node.pid";

/// A written pid file; [`PidFile::remove`] deletes it.
#[derive(Debug)]
pub(crate) struct PidFile {
    path: PathBuf,
}

/// Why the pid file could not be written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PidError {
    /// Another live process runs this node directory.
    #[error(
        "a node is already running from {} (PID {pid}); stop it first, or delete {} if that process is not ringbar",
        dir.display(),
        path.display()
    )]
    Running {
        /// The node directory.
        dir: PathBuf,
        /// The pid file.
        path: PathBuf,
        /// The running process.
        pid: u32,
    },
    /// The file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The pid file.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
}

impl PidFile {
    /// Writes `DIR/node.pid` for this process, replacing a stale one.
    pub(crate) fn create(dir: &Path) -> Result<PidFile, PidError> {
        let path = dir.join(PID_FILE);
        let own = std::process::id();
        if let Some(pid) = recorded_pid(&path) {
            if pid != own && running_pid(&path) == Some(pid) {
                return Err(PidError::Running {
                    dir: dir.to_path_buf(),
                    path,
                    pid,
                });
            }
            tracing::info!(
                "Stale {} (PID {pid} is gone or another program) replaced.",
                path.display()
            );
        }
        let argv: Vec<String> = std::env::args().collect();
        let content = serde_json::json!({ "pid": own, "argv": argv });
        let text = serde_json::to_string_pretty(&content).unwrap_or_default() + "\n";
        fs::write(&path, text).map_err(|source| PidError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(PidFile { path })
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Deletes the file (on a clean exit).
    pub(crate) fn remove(self) {
        remove(&self.path);
    }
}

/// Deletes the pid file at `path`, logging a failure.
pub(crate) fn remove(path: &Path) {
    if let Err(error) = fs::remove_file(path)
        && error.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!("cannot remove {}: {error}", path.display());
    }
}

/// The pid a pid file records: Crossbar.io's JSON, or a bare number.
pub(crate) fn recorded_pid(path: &Path) -> Option<u32> {
    let text = fs::read_to_string(path).ok()?;
    if let Ok(pid) = text.trim().parse::<u32>() {
        return Some(pid);
    }
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value
        .get("pid")?
        .as_u64()
        .and_then(|pid| u32::try_from(pid).ok())
}

/// The pid of the node that wrote the pid file at `path`, while it runs: a
/// live process whose command line is the one recorded. The check keeps
/// `ringbar stop` from signalling another program that reused the pid of a
/// node that died without removing its file. A file without `argv` (a bare
/// number) is trusted on the pid alone.
pub(crate) fn running_pid(path: &Path) -> Option<u32> {
    let pid = recorded_pid(path)?;
    if !is_alive(pid) {
        return None;
    }
    let argv = recorded_argv(path).filter(|argv| !argv.is_empty());
    let Some(argv) = argv else {
        return Some(pid);
    };
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let running: Vec<String> = cmdline
        .split(|&b| b == 0)
        .filter(|arg| !arg.is_empty())
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect();
    (running == argv).then_some(pid)
}

/// The command line a pid file records (Crossbar.io's `argv`).
fn recorded_argv(path: &Path) -> Option<Vec<String>> {
    let text = fs::read_to_string(path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    serde_json::from_value(value.get("argv")?.clone()).ok()
}

/// Whether a process with this pid runs (Linux: its `/proc` entry, and
/// not a zombie that ended and waits for its parent).
pub(crate) fn is_alive(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_none_or(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ringbar-pid-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn writes_and_removes() {
        let dir = temp_dir("write");
        let pid_file = PidFile::create(&dir).unwrap();
        assert_eq!(recorded_pid(pid_file.path()), Some(std::process::id()));
        pid_file.remove();
        assert!(!dir.join(PID_FILE).exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_live_process_blocks_and_a_dead_one_does_not() {
        let dir = temp_dir("live");
        // PID 1 always exists.
        fs::write(dir.join(PID_FILE), "{\"pid\": 1, \"argv\": []}\n").unwrap();
        let error = PidFile::create(&dir).unwrap_err();
        assert!(matches!(error, PidError::Running { pid: 1, .. }), "{error}");
        // PID 1 with another command line is not a node of this directory.
        fs::write(
            dir.join(PID_FILE),
            "{\"pid\": 1, \"argv\": [\"ringbar\", \"start\", \"x\"]}\n",
        )
        .unwrap();
        assert_eq!(running_pid(&dir.join(PID_FILE)), None);
        PidFile::create(&dir).unwrap().remove();
        // Our own command line, recorded, is recognised.
        let argv: Vec<String> = std::env::args().collect();
        let own = serde_json::json!({"pid": std::process::id(), "argv": argv});
        fs::write(dir.join(PID_FILE), own.to_string()).unwrap();
        assert_eq!(running_pid(&dir.join(PID_FILE)), Some(std::process::id()));
        // Beyond the kernel's pid_max, so never alive.
        fs::write(dir.join(PID_FILE), "99999999\n").unwrap();
        PidFile::create(&dir).unwrap().remove();
        fs::remove_dir_all(&dir).unwrap();
    }
}
