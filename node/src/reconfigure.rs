//! Live reconfiguration of a managed node: when its management service
//! sends a new configuration (checked and cached by the uplink), the node
//! stops its router gracefully and starts again, in the same process
//! (`exec` of its own binary with its own arguments: the same pid, so
//! `ringbar stop` and supervisors keep working), from the cached
//! configuration. The pairing lives in the service's database and the
//! node's pinned key, so it stays; clients reconnect as after any restart.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;

use ringbar_engine::ShutdownHandle;

use crate::EXIT_FAILURE;

/// Whether a new configuration asked the node to start again.
pub(crate) struct Reconfigure {
    asked: Arc<AtomicBool>,
}

/// Waits, on a thread of its own, for the configurations the uplink
/// passes on after the first; the first one stops the router.
pub(crate) fn watch(configs: Receiver<String>, shutdown: ShutdownHandle) -> Reconfigure {
    let asked = Arc::new(AtomicBool::new(false));
    let flag = asked.clone();
    let spawned = std::thread::Builder::new()
        .name("reconfigure".into())
        .spawn(move || {
            if configs.recv().is_ok() {
                tracing::info!(
                    "Reconfiguring: stopping the router to start the node again with its new configuration (the pairing stays)."
                );
                flag.store(true, Ordering::SeqCst);
                shutdown.shutdown();
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(
            "cannot watch for new configurations ({error}); they apply at the next start"
        );
    }
    Reconfigure { asked }
}

impl Reconfigure {
    /// When a new configuration stopped the router: replaces this process
    /// with a new run of the same command, returning only if that fails.
    /// `None` when the node stopped for another reason.
    pub(crate) fn restart_if_asked(&self) -> Option<ExitCode> {
        if !self.asked.load(Ordering::SeqCst) {
            return None;
        }
        let args: Vec<OsString> = std::env::args_os().skip(1).collect();
        let error = match std::env::current_exe() {
            Ok(binary) => Command::new(binary).args(args).exec(),
            Err(error) => error,
        };
        eprintln!("ringbar: cannot start again with the new configuration: {error}");
        Some(ExitCode::from(EXIT_FAILURE))
    }
}
