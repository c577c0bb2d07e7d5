//! Owners' passwords: hashed with argon2id (salted, PHC string format),
//! never stored; read from a terminal prompt, a file or the environment.

use std::io::IsTerminal;
use std::path::Path;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// The environment variable a password may come from.
pub(crate) const PASSWORD_ENV: &str = "RINGBAR_PASSWORD";

/// Why no password could be had or hashed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PasswordError {
    /// The password file could not be read.
    #[error("cannot read the password file {}: {source}", path.display())]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The terminal prompt failed.
    #[error("cannot read the password from the terminal: {0}")]
    Prompt(std::io::Error),
    /// The two entries at the prompt differ.
    #[error("the passwords do not match; try again")]
    Mismatch,
    /// The password is empty.
    #[error("the password is empty ({0})")]
    Empty(&'static str),
    /// Neither a file, the environment, nor a terminal gave one.
    #[error(
        "no password: stdin is not a terminal; give --password-file FILE or set {PASSWORD_ENV}"
    )]
    NoSource,
    /// argon2 refused (no randomness for the salt).
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// Reads a new password: from `file` (its first line) when given, else
/// from the environment variable [`PASSWORD_ENV`] when set, else from a
/// prompt (entered twice) when stdin is a terminal.
pub(crate) fn read_new(file: Option<&Path>) -> Result<String, PasswordError> {
    let env = std::env::var(PASSWORD_ENV).ok();
    let terminal = std::io::stdin().is_terminal();
    read_from(file, env, terminal, || {
        let first = rpassword::prompt_password("Password: ").map_err(PasswordError::Prompt)?;
        let again =
            rpassword::prompt_password("Password (again): ").map_err(PasswordError::Prompt)?;
        if first == again {
            Ok(first)
        } else {
            Err(PasswordError::Mismatch)
        }
    })
}

/// Reads an existing password, to prove it (`ringbar pair`): the same
/// sources as [`read_new`], asked once at the prompt.
pub(crate) fn read_existing(file: Option<&Path>) -> Result<String, PasswordError> {
    let env = std::env::var(PASSWORD_ENV).ok();
    let terminal = std::io::stdin().is_terminal();
    read_from(file, env, terminal, || {
        rpassword::prompt_password("Password: ").map_err(PasswordError::Prompt)
    })
}

/// Reads a password from `file`, else `env`, else the `prompt` when stdin
/// is a `terminal`.
fn read_from(
    file: Option<&Path>,
    env: Option<String>,
    terminal: bool,
    prompt: impl FnOnce() -> Result<String, PasswordError>,
) -> Result<String, PasswordError> {
    let (password, source) = if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|source| PasswordError::File {
            path: path.to_path_buf(),
            source,
        })?;
        let line = text.lines().next().unwrap_or_default().to_owned();
        (line, "the first line of the password file")
    } else if let Some(password) = env {
        (password, PASSWORD_ENV)
    } else if terminal {
        (prompt()?, "at the prompt")
    } else {
        return Err(PasswordError::NoSource);
    };
    if password.is_empty() {
        return Err(PasswordError::Empty(source));
    }
    Ok(password)
}

/// Hashes `password` with argon2id and a random salt, as a PHC string
/// (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`).
pub(crate) fn hash(password: &str) -> Result<String, PasswordError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches the PHC string `hash` (false for a damaged
/// hash).
pub(crate) fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_prompt() -> Result<String, PasswordError> {
        panic!("no prompt expected")
    }

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hash = hash("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains("correct horse"));
        assert!(verify("correct horse", &hash));
        assert!(!verify("correct hors", &hash));
        assert!(!verify("correct horse", "not a hash"));
        assert_ne!(hash, super::hash("correct horse").unwrap(), "salted");
    }

    #[test]
    fn the_file_wins_then_the_environment_then_the_prompt() {
        let path = std::env::temp_dir().join(format!("ringbar-pw-{}", std::process::id()));
        std::fs::write(&path, "from-file\nsecond line\n").unwrap();
        let got = read_from(Some(&path), Some("from-env".into()), true, no_prompt);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(got.unwrap(), "from-file");
        let got = read_from(None, Some("from-env".into()), true, no_prompt);
        assert_eq!(got.unwrap(), "from-env");
        let got = read_from(None, None, true, || Ok("typed".into()));
        assert_eq!(got.unwrap(), "typed");
    }

    #[test]
    fn no_source_empty_and_unreadable_are_errors() {
        let error = read_from(None, None, false, no_prompt).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("--password-file FILE or set RINGBAR_PASSWORD")
        );
        let error = read_from(None, Some(String::new()), false, no_prompt).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the password is empty (RINGBAR_PASSWORD)"
        );
        let missing = Path::new("/nonexistent/ringbar-password");
        let error = read_from(Some(missing), None, false, no_prompt).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("cannot read the password file /nonexistent/ringbar-password")
        );
        let error = read_from(None, None, true, || Err(PasswordError::Mismatch)).unwrap_err();
        assert_eq!(error.to_string(), "the passwords do not match; try again");
    }
}
