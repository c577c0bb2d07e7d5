//! The management service's public key that a node trusts, pinned in
//! `DIR/management-key.pub` (the key-file layout of `key.pub`): given at
//! `ringbar init --management-key HEX`, or learned when the node is first
//! paired (trust on first use). The uplink refuses a service that cannot
//! prove it holds the matching private key.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::origin::utc_timestamp;
use super::tags::{parse_tags, render, tag};
use super::{KeyError, PUBLIC_TAG};

/// The file in the node directory.
pub(crate) const MANAGEMENT_KEY_FILE: &str = "management-key.pub";

const HEADER: &str = "ringbar management service public key";

/// The pinned key of `dir`, when there is one.
pub(crate) fn load(dir: &Path) -> Result<Option<[u8; 32]>, KeyError> {
    let path = dir.join(MANAGEMENT_KEY_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(KeyError::Io { path, source }),
    };
    let corrupt = |reason: String| KeyError::Corrupt {
        path: path.clone(),
        reason,
    };
    let tags = parse_tags(&text).map_err(corrupt)?;
    let hex = tag(&tags, PUBLIC_TAG).ok_or_else(|| corrupt(format!("no {PUBLIC_TAG} tag")))?;
    parse_public_key(hex).map(Some).map_err(corrupt)
}

/// Pins `key` in `dir`, replacing the file whole (written beside it, then
/// renamed), with where it came from (`source`); the file's path.
pub(crate) fn store(dir: &Path, key: [u8; 32], source: &str) -> Result<PathBuf, KeyError> {
    let path = dir.join(MANAGEMENT_KEY_FILE);
    let tags = [
        ("pinned-at".to_owned(), utc_timestamp(SystemTime::now())),
        ("source".to_owned(), source.to_owned()),
        (PUBLIC_TAG.to_owned(), hex::encode(key)),
    ];
    let temporary = path.with_extension("pub.new");
    fs::write(&temporary, render(HEADER, &tags))
        .and_then(|()| fs::rename(&temporary, &path))
        .map_err(|source| KeyError::Io {
            path: path.clone(),
            source,
        })?;
    Ok(path)
}

/// An Ed25519 public key in hex (64 digits), or what is wrong with it.
pub(crate) fn parse_public_key(text: &str) -> Result<[u8; 32], String> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut key)
        .map_err(|_| format!("{text:?} is not an Ed25519 public key (64 hex digits)"))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_key_loads_again_and_a_corrupt_one_is_named() {
        let dir = std::env::temp_dir().join(format!("ringbar-pin-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        assert_eq!(load(&dir).unwrap(), None);
        let path = store(&dir, [7; 32], "ringbar init --management-key").unwrap();
        assert_eq!(load(&dir).unwrap(), Some([7; 32]));
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("source: ringbar init --management-key\n"),
            "{text}"
        );
        store(&dir, [8; 32], "learned").unwrap();
        assert_eq!(load(&dir).unwrap(), Some([8; 32]));

        fs::write(&path, "x\n\npublic-key-ed25519: 12\n").unwrap();
        let error = load(&dir).unwrap_err().to_string();
        assert!(error.contains("management-key.pub"), "{error}");
        assert!(error.contains("not an Ed25519 public key"), "{error}");
        assert!(parse_public_key(&"ab".repeat(32)).is_ok());
        assert!(parse_public_key("ab").is_err());
        fs::remove_dir_all(&dir).unwrap();
    }
}
