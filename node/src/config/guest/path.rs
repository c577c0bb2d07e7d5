//! Where a guest runs and what it runs, found as Crossbar.io finds them:
//! the working directory is `options.workdir` relative to the node
//! directory; the executable is relative to the working directory, else
//! looked up on `PATH`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path as FsPath, PathBuf};

use crate::config::convert::Env;
use crate::config::diag::{Diagnostics, Path};

/// The guest's working directory: `workdir` joined to the node directory
/// `dir` (an absolute `workdir` stands alone), which must exist.
pub(super) fn workdir(
    dir: &FsPath,
    workdir: Option<&str>,
    options_path: &Path,
    diag: &mut Diagnostics,
) -> Option<PathBuf> {
    let Some(workdir) = workdir else {
        return Some(dir.to_path_buf());
    };
    let resolved = dir.join(workdir);
    if resolved.is_dir() {
        Some(resolved)
    } else {
        diag.error(
            &options_path.key("workdir"),
            format!(
                "{} is not a directory: create it, or give a path relative to the node directory",
                resolved.display()
            ),
        );
        None
    }
}

/// The absolute path of `executable`: in `workdir` when there is such an
/// executable file there, else (for a bare name) the first one on `PATH`.
pub(super) fn executable(
    executable: &str,
    workdir: &FsPath,
    env: Env<'_>,
    path: &Path,
    diag: &mut Diagnostics,
) -> Option<PathBuf> {
    if executable.is_empty() {
        diag.error(
            path,
            "empty: name the program to run (e.g. \"/usr/bin/python3\" or \"./run.sh\")",
        );
        return None;
    }
    let local = workdir.join(executable);
    if is_executable(&local) {
        return Some(local);
    }
    if !executable.contains('/')
        && let Some(found) = on_path(executable, env)
    {
        return Some(found);
    }
    let message = if local.is_file() {
        format!(
            "{} is not executable: `chmod +x` it, or run it through its interpreter (\"executable\": \"/bin/sh\", \"arguments\": [{executable:?}])",
            local.display()
        )
    } else if executable.contains('/') {
        format!(
            "{} does not exist: give a path relative to the worker's workdir ({}) or an absolute one",
            local.display(),
            workdir.display()
        )
    } else {
        format!(
            "{executable:?} is neither in the worker's workdir ({}) nor on PATH: give its full path",
            workdir.display()
        )
    };
    diag.error(path, message);
    None
}

/// The first executable `name` in the directories of `PATH`.
fn on_path(name: &str, env: Env<'_>) -> Option<PathBuf> {
    let path = env("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// Whether `path` is a file someone may execute.
fn is_executable(path: &FsPath) -> bool {
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}
