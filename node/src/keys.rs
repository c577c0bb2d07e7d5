//! `ringbar keys DIR`: print the node's public key, or with `--private`
//! its private key, making the key pair first when the directory has none,
//! as `crossbar keys` does.

use std::path::Path;
use std::process::ExitCode;

use crate::EXIT_FAILURE;
use crate::init;

/// Prints the key of the node directory `dir` (created when missing):
/// a title line, then `hex: ` and the key, as `crossbar keys` prints it.
pub(crate) fn run(dir: &Path, private: bool) -> ExitCode {
    if let Err(error) = std::fs::create_dir_all(dir) {
        eprintln!("ringbar: cannot create {}: {error}", dir.display());
        return ExitCode::from(EXIT_FAILURE);
    }
    let key = match init::instance_key(dir) {
        Ok(key) => key,
        Err(error) => {
            eprintln!("ringbar: instance key: {error}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    if private {
        println!("ringbar node PRIVATE key");
        println!("hex: {}", hex::encode(key.signing_key().to_bytes()));
    } else {
        println!("ringbar node PUBLIC key");
        println!("hex: {}", key.public_hex());
    }
    ExitCode::SUCCESS
}
