//! `ringbar check DIR`: validate the config without starting anything.

use std::path::Path;
use std::process::ExitCode;

use crate::config::{self, Overrides};
use crate::start::config_failure;

/// Checks the config of `dir`: exit 0 when valid (warnings printed), else
/// 2 with every error on stderr.
pub(crate) fn run(dir: &Path) -> ExitCode {
    match config::load(dir, Overrides::default()) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                eprintln!("warning: {warning}");
            }
            let realms = loaded.router.realms.len();
            let transports = loaded.router.transports.len();
            println!(
                "Ok, {} is valid: {realms} realm{}, {transports} transport{}.",
                loaded.path.display(),
                if realms == 1 { "" } else { "s" },
                if transports == 1 { "" } else { "s" },
            );
            ExitCode::SUCCESS
        }
        Err(error) => config_failure(&error, ""),
    }
}
