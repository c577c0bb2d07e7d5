//! The node's instance key: an Ed25519 key pair in `key.priv` / `key.pub`,
//! text files in Crossbar.io's format, so a node directory can move between
//! the two:
//!
//! ```text
//! ringbar node public key
//!
//! creator: alice@host
//! created-at: 2025-01-31T12:00:00.000Z
//! machine-id: 0123456789abcdef0123456789abcdef
//! public-key-ed25519: <64 hex digits>
//! ```
//!
//! Everything before the first blank line is a free header; `key.priv` adds
//! `private-key-ed25519` (the 32-byte seed, in hex) and is mode 0600.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use ed25519_dalek::SigningKey;

mod origin;
pub(crate) mod pinned;
mod tags;

pub(crate) use origin::utc_timestamp;
use origin::{creator, machine_id};
use tags::{parse_tags, render, tag};

/// The private key file in the node directory.
pub(crate) const PRIVATE_KEY_FILE: &str = "key.priv";
/// The public key file in the node directory.
pub(crate) const PUBLIC_KEY_FILE: &str = "key.pub";

const PRIVATE_MODE: u32 = 0o600;
const PUBLIC_MODE: u32 = 0o644;
const PUBLIC_HEADER: &str = "ringbar node public key";
const PRIVATE_HEADER: &str = "ringbar node private key - KEEP THIS SAFE!";
const PUBLIC_TAG: &str = "public-key-ed25519";
const PRIVATE_TAG: &str = "private-key-ed25519";

/// The node's key pair.
#[derive(Debug)]
pub(crate) struct InstanceKey {
    signing: SigningKey,
}

/// Whether [`load_or_generate`] found a key or made one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyOrigin {
    /// A new key was generated and written.
    Generated,
    /// The existing key was read and checked.
    Loaded,
}

/// Why the instance key could not be had.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyError {
    /// A key file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// The operating system gave no randomness.
    #[error("no randomness for a new key: {0}")]
    Random(getrandom::Error),
    /// A key file is not a valid key file.
    #[error("{}: {reason} (move the key files away to generate a new key)", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl InstanceKey {
    /// The signing key: the node signs its management service's
    /// cryptosign challenges with it.
    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// The public key, in hex.
    pub(crate) fn public_hex(&self) -> String {
        hex::encode(self.signing.verifying_key().as_bytes())
    }
}

/// Reads and checks the key pair of `dir`, or generates one when there is
/// no `key.priv`. A missing `key.pub` is written again from `key.priv`.
pub(crate) fn load_or_generate(dir: &Path) -> Result<(InstanceKey, KeyOrigin), KeyError> {
    let private_path = dir.join(PRIVATE_KEY_FILE);
    if private_path.exists() {
        load(dir).map(|key| (key, KeyOrigin::Loaded))
    } else {
        generate(dir).map(|key| (key, KeyOrigin::Generated))
    }
}

fn generate(dir: &Path) -> Result<InstanceKey, KeyError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(KeyError::Random)?;
    let key = InstanceKey {
        signing: SigningKey::from_bytes(&seed),
    };
    let mut tags = vec![
        ("creator".to_owned(), creator()),
        ("created-at".to_owned(), utc_timestamp(SystemTime::now())),
        ("machine-id".to_owned(), machine_id()),
        (PUBLIC_TAG.to_owned(), key.public_hex()),
    ];
    write_public(dir, &tags)?;
    tags.push((PRIVATE_TAG.to_owned(), hex::encode(seed)));
    let path = dir.join(PRIVATE_KEY_FILE);
    let io_error = |source| KeyError::Io {
        path: path.clone(),
        source,
    };
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE_MODE)
        .open(&path)
        .map_err(io_error)?;
    file.write_all(render(PRIVATE_HEADER, &tags).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_error)?;
    Ok(key)
}

fn load(dir: &Path) -> Result<InstanceKey, KeyError> {
    let path = dir.join(PRIVATE_KEY_FILE);
    let corrupt = |reason: String| KeyError::Corrupt {
        path: path.clone(),
        reason,
    };
    let text = fs::read_to_string(&path).map_err(|source| KeyError::Io {
        path: path.clone(),
        source,
    })?;
    let tags = parse_tags(&text).map_err(corrupt)?;
    let seed_hex =
        tag(&tags, PRIVATE_TAG).ok_or_else(|| corrupt(format!("no {PRIVATE_TAG} tag")))?;
    let seed: [u8; 32] = hex::decode(seed_hex)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| corrupt(format!("{PRIVATE_TAG} is not 64 hex digits")))?;
    let key = InstanceKey {
        signing: SigningKey::from_bytes(&seed),
    };
    let public_hex = key.public_hex();
    if tag(&tags, PUBLIC_TAG).is_some_and(|hex| !hex.eq_ignore_ascii_case(&public_hex)) {
        return Err(corrupt(format!(
            "{PUBLIC_TAG} does not belong to {PRIVATE_TAG}"
        )));
    }
    restrict_private_mode(&path)?;
    let public_path = dir.join(PUBLIC_KEY_FILE);
    if public_path.exists() {
        let text = fs::read_to_string(&public_path).map_err(|source| KeyError::Io {
            path: public_path.clone(),
            source,
        })?;
        let corrupt_public = |reason: String| KeyError::Corrupt {
            path: public_path.clone(),
            reason,
        };
        let public_tags = parse_tags(&text).map_err(corrupt_public)?;
        match tag(&public_tags, PUBLIC_TAG) {
            Some(hex) if hex.eq_ignore_ascii_case(&public_hex) => {}
            Some(_) => {
                return Err(corrupt_public(format!(
                    "{PUBLIC_TAG} does not belong to the key in {PRIVATE_KEY_FILE}"
                )));
            }
            None => return Err(corrupt_public(format!("no {PUBLIC_TAG} tag"))),
        }
    } else {
        let public_tags: Vec<(String, String)> = tags
            .into_iter()
            .filter(|(name, _)| !name.starts_with("private-"))
            .map(|(name, value)| {
                let value = if name == PUBLIC_TAG {
                    public_hex.clone()
                } else {
                    value
                };
                (name, value)
            })
            .collect();
        write_public(dir, &public_tags)?;
        tracing::info!(
            "{} was missing: written again from {PRIVATE_KEY_FILE}.",
            public_path.display()
        );
    }
    Ok(key)
}

fn write_public(dir: &Path, tags: &[(String, String)]) -> Result<(), KeyError> {
    let path = dir.join(PUBLIC_KEY_FILE);
    fs::write(&path, render(PUBLIC_HEADER, tags))
        .and_then(|()| fs::set_permissions(&path, fs::Permissions::from_mode(PUBLIC_MODE)))
        .map_err(|source| KeyError::Io { path, source })
}

/// Crossbar.io fixes a private key file that others may read; so does
/// ringbar.
fn restrict_private_mode(path: &Path) -> Result<(), KeyError> {
    let io_error = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mode = fs::metadata(path).map_err(io_error)?.permissions().mode();
    if mode & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(PRIVATE_MODE)).map_err(io_error)?;
        tracing::warn!(
            "{} was readable by others: mode set to 0600.",
            path.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ringbar-key-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_generated_key_loads_again() {
        let dir = temp_dir("roundtrip");
        let (first, origin) = load_or_generate(&dir).unwrap();
        assert_eq!(origin, KeyOrigin::Generated);
        let mode = fs::metadata(dir.join(PRIVATE_KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (second, origin) = load_or_generate(&dir).unwrap();
        assert_eq!(origin, KeyOrigin::Loaded);
        assert_eq!(first.public_hex(), second.public_hex());

        let public = fs::read_to_string(dir.join(PUBLIC_KEY_FILE)).unwrap();
        assert!(public.contains(&format!("public-key-ed25519: {}\n", first.public_hex())));
        assert!(!public.contains("private"));
        let tags = parse_tags(&public).unwrap();
        let names: Vec<&str> = tags.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["creator", "created-at", "machine-id", "public-key-ed25519"]
        );

        fs::remove_file(dir.join(PUBLIC_KEY_FILE)).unwrap();
        let (third, _) = load_or_generate(&dir).unwrap();
        assert_eq!(third.public_hex(), first.public_hex());
        assert_eq!(
            fs::read_to_string(dir.join(PUBLIC_KEY_FILE)).unwrap(),
            public
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn crossbar_key_files_load() {
        // RFC 8032 test vector 1, in a file laid out as Crossbar.io writes it.
        let dir = temp_dir("crossbar");
        let text = "Crossbar.io node private key - KEEP THIS SAFE!\n\n\
            creator: bob@box\ncreated-at: 2020-01-01T00:00:00.000Z\nmachine-id: abc\n\
            node-authid: box\n\
            public-key-ed25519: d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a\n\
            public-adr-eth: 0x0\n\
            private-key-ed25519: 9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60\n\
            private-key-eth: 00\n";
        fs::write(dir.join(PRIVATE_KEY_FILE), text).unwrap();
        let (key, origin) = load_or_generate(&dir).unwrap();
        assert_eq!(origin, KeyOrigin::Loaded);
        assert_eq!(
            key.public_hex(),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        let mode = fs::metadata(dir.join(PRIVATE_KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn corrupt_key_files_are_named() {
        let dir = temp_dir("corrupt");
        fs::write(dir.join(PRIVATE_KEY_FILE), "x\n\nprivate-key-ed25519: zz\n").unwrap();
        let error = load_or_generate(&dir).unwrap_err().to_string();
        assert_eq!(
            error,
            format!(
                "{}: private-key-ed25519 is not 64 hex digits (move the key files away to generate a new key)",
                dir.join(PRIVATE_KEY_FILE).display()
            )
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
