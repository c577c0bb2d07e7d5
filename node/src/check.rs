//! `ringbar check DIR [--config FILE]`: validate the config without
//! starting anything.

use std::path::Path;
use std::process::ExitCode;

use ringbar_engine::config::{Endpoint, RouterConfig};

use crate::config::{self, Overrides};
use crate::start::config_failure;

/// Checks the config `file` of `dir` (the directory's own when `None`) and
/// the TLS files it names: exit 0 when valid (warnings printed), else 2
/// with every error on stderr.
pub(crate) fn run(dir: &Path, file: Option<&Path>) -> ExitCode {
    match config::load(dir, file, Overrides::default()) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                eprintln!("warning: {warning}");
            }
            let tls_errors = tls_errors(&loaded.router);
            if !tls_errors.is_empty() {
                for error in &tls_errors {
                    eprintln!("error: {error}");
                }
                return ExitCode::from(crate::EXIT_CONFIG);
            }
            let realms = loaded.router.realms.len();
            let transports = loaded.router.transports.len();
            let guests = match loaded.guests.len() {
                0 => String::new(),
                1 => ", 1 guest worker".to_owned(),
                n => format!(", {n} guest workers"),
            };
            println!(
                "Ok, {} is valid: {realms} realm{}, {transports} transport{}{guests}.",
                loaded.path.display(),
                if realms == 1 { "" } else { "s" },
                if transports == 1 { "" } else { "s" },
            );
            ExitCode::SUCCESS
        }
        Err(error) => config_failure(&error, ""),
    }
}

/// What is wrong with the TLS files of every endpoint, as `start` would say.
fn tls_errors(router: &RouterConfig) -> Vec<String> {
    router
        .transports
        .iter()
        .filter_map(|transport| match &transport.endpoint {
            Endpoint::Tcp { tls: Some(tls), .. } => ringbar_engine::check_tls(tls)
                .err()
                .map(|e| format!("transport {}: TLS: {e}", transport.id)),
            _ => None,
        })
        .collect()
}
