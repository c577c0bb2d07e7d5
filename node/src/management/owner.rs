//! `ringbar management adduser DIR NAME` and `ringbar management users
//! DIR`: the owners who pair and manage nodes.

use std::path::Path;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use ed25519_dalek::VerifyingKey;

use super::store::{Credential, Owner, Store, StoreError};
use super::{fail, password, timestamp};
use crate::EXIT_CONFIG;

/// The longest owner name.
const MAX_NAME_LEN: usize = 64;

/// Adds the owner `name` with a password (from `password_file`, the
/// environment or a prompt) or, with `pubkey`, an Ed25519 public key.
pub(crate) fn add(
    dir: &Path,
    name: &str,
    password_file: Option<&Path>,
    pubkey: Option<&str>,
) -> ExitCode {
    if let Err(reason) = check_name(name) {
        eprintln!("ringbar: {reason}");
        return ExitCode::from(EXIT_CONFIG);
    }
    // The database is opened first, so that a wrong directory is said
    // before a password is asked for.
    let store = match Store::open(dir) {
        Ok(store) => store,
        Err(error) => return fail(&error.to_string()),
    };
    // A taken name is said before a password is asked for, too (adding
    // checks again, in its transaction).
    match store.owner(name) {
        Ok(None) => {}
        Ok(Some(_)) => return fail(&StoreError::OwnerExists(name.to_owned()).to_string()),
        Err(error) => return fail(&error.to_string()),
    }
    let credential = match pubkey {
        Some(hex) => match check_pubkey(hex) {
            Ok(key) => Credential::Ed25519(key),
            Err(reason) => {
                eprintln!("ringbar: {reason}");
                return ExitCode::from(EXIT_CONFIG);
            }
        },
        None => match password::read_new(password_file).and_then(|pw| password::hash(&pw)) {
            Ok(hash) => Credential::Password(hash),
            Err(error) => return fail(&error.to_string()),
        },
    };
    let owner = Owner {
        credential,
        created_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    match store.add_owner(name, &owner) {
        Ok(()) => {
            tracing::info!("Owner '{name}' added.");
            ExitCode::SUCCESS
        }
        Err(error) => fail(&error.to_string()),
    }
}

/// Prints every owner: name, credential kind, when added.
pub(crate) fn list(dir: &Path) -> ExitCode {
    let owners = match Store::open(dir).and_then(|store| store.owners()) {
        Ok(owners) => owners,
        Err(error) => return fail(&error.to_string()),
    };
    if owners.is_empty() {
        println!(
            "No owners yet (`ringbar management adduser {} NAME` adds one).",
            dir.display()
        );
    }
    for (name, owner) in owners {
        let credential = match &owner.credential {
            Credential::Password(_) => "password".to_owned(),
            Credential::Ed25519(key) => format!("ed25519 {key}"),
        };
        println!(
            "{name}  {credential}  added {}",
            timestamp(owner.created_at)
        );
    }
    ExitCode::SUCCESS
}

/// An owner name is a WAMP authid: 1 to 64 letters, digits, `_`, `-`,
/// `.` or `@`.
fn check_name(name: &str) -> Result<(), String> {
    let valid = (1..=MAX_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'@'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "\"{name}\" is not an owner name: use 1 to {MAX_NAME_LEN} letters, digits, '_', '-', '.' or '@'"
        ))
    }
}

/// An Ed25519 public key: 64 hex digits of a valid curve point; returned
/// in lower case.
fn check_pubkey(hex: &str) -> Result<String, String> {
    let bytes: Option<[u8; 32]> = hex::decode(hex).ok().and_then(|b| b.try_into().ok());
    match bytes.map(|b| VerifyingKey::from_bytes(&b)) {
        Some(Ok(key)) => Ok(hex::encode(key.as_bytes())),
        Some(Err(_)) => Err(format!("--pubkey {hex} is not a valid Ed25519 public key")),
        None => Err(format!(
            "--pubkey {hex} is not an Ed25519 public key (64 hex digits, as in a key.pub file)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_names_are_authids() {
        for name in ["alice", "a.b-c_d@example.com", &"x".repeat(64)] {
            assert_eq!(check_name(name), Ok(()), "{name}");
        }
        for name in ["", "al ice", "al/ice", &"x".repeat(65), "ålice"] {
            assert!(check_name(name).is_err(), "{name}");
        }
    }

    #[test]
    fn public_keys_are_checked_and_normalised() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
        let upper = hex::encode_upper(key.as_bytes());
        assert_eq!(check_pubkey(&upper), Ok(hex::encode(key.as_bytes())));
        assert!(check_pubkey("abcd").unwrap_err().contains("64 hex digits"));
        assert!(
            check_pubkey(&"zz".repeat(32))
                .unwrap_err()
                .contains("64 hex digits")
        );
    }
}
