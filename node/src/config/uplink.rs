//! `ringbar.management`: the management service a node connects to (its
//! uplink), written by `ringbar init DIR --management URL`.

use std::path::PathBuf;

use serde_json::Value;

use super::diag::{Diagnostics, Path};
use super::read::read;

/// The uplink setting: where the node's management service listens, and
/// what vouches for its TLS certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Uplink {
    /// The management service's WebSocket URL, e.g.
    /// `wss://manage.example.com/ws`.
    pub(crate) url: String,
    /// `ca_certificates`: PEM files of the CAs a `wss://` service's
    /// certificate must chain to, resolved against the node directory;
    /// empty for the system's roots.
    pub(crate) ca_certificates: Vec<PathBuf>,
}

/// `ringbar.management` as written in the file.
#[derive(Debug, serde::Deserialize)]
#[serde(expecting = "a management uplink object")]
struct UplinkFile {
    /// `url`.
    url: String,
    /// `ca_certificates`, relative to the node directory.
    #[serde(default)]
    ca_certificates: Vec<String>,
}

/// Reads `ringbar.management` of the whole file `root` of the node
/// directory `dir`, when there is one.
pub(crate) fn from_root(
    root: &Value,
    dir: &std::path::Path,
    diag: &mut Diagnostics,
) -> Option<Uplink> {
    let value = root.get("ringbar")?.get("management")?;
    convert(
        value,
        dir,
        &Path::root().key("ringbar").key("management"),
        diag,
    )
}

/// Reads `ringbar.management` at `path`; `None` with an error in `diag`
/// when it is not valid.
pub(crate) fn convert(
    value: &Value,
    dir: &std::path::Path,
    path: &Path,
    diag: &mut Diagnostics,
) -> Option<Uplink> {
    let file: UplinkFile = read(value, path, diag)?;
    let mut valid = true;
    if let Err(reason) = check_url(&file.url) {
        diag.error(&path.key("url"), reason);
        valid = false;
    }
    let mut ca_certificates = Vec::new();
    for (at, name) in file.ca_certificates.iter().enumerate() {
        let resolved = dir.join(name);
        if !resolved.is_file() {
            diag.error(
                &path.key("ca_certificates").index(at),
                format!(
                    "{} is not a file: give the PEM file of the CA that signed the management service's certificate, relative to the node directory",
                    resolved.display()
                ),
            );
            valid = false;
        }
        ca_certificates.push(resolved);
    }
    valid.then_some(Uplink {
        url: file.url,
        ca_certificates,
    })
}

/// Checks that `url` is a URL the uplink can open
/// (`ws[s]://HOST[:PORT][/PATH]`, parsed by the client that will open it);
/// the error says what is wrong and what is expected.
pub(crate) fn check_url(url: &str) -> Result<(), String> {
    ringbar_client::Url::parse(url)
        .map(drop)
        .map_err(|error| match error {
            ringbar_client::Error::Url { reason, .. } => format!("\"{url}\": {reason}"),
            other => other.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn websocket_urls_are_accepted() {
        for url in [
            "ws://127.0.0.1:9000/ws",
            "ws://localhost:9000",
            "ws://[::1]:9000/ws",
            "wss://manage.example.com/ws",
        ] {
            assert_eq!(check_url(url), Ok(()), "{url}");
        }
    }

    #[test]
    fn other_urls_are_refused_with_the_reason() {
        let cases = [
            ("http://127.0.0.1:9000/ws", "expected a ws:// or wss:// URL"),
            ("127.0.0.1:9000", "expected a ws:// or wss:// URL"),
            ("ws:///ws", "has no host"),
            ("ws://:9000/ws", "has no host"),
            ("ws://user@host/ws", "has no host"),
            ("ws://host:0/ws", "1..65535"),
            ("ws://host:99999/ws", "1..65535"),
            ("ws://host:x/ws", "1..65535"),
        ];
        for (url, reason) in cases {
            let error = check_url(url).unwrap_err();
            assert!(error.contains(reason), "{url}: {error}");
            assert!(error.contains(url), "{error}");
        }
    }

    #[test]
    fn errors_carry_the_path() {
        let mut diag = Diagnostics::new("config.json");
        let path = Path::root().key("ringbar").key("management");
        let dir = std::env::temp_dir();
        assert!(convert(&json!({"url": "http://x"}), &dir, &path, &mut diag).is_none());
        assert!(convert(&json!({"uri": "ws://x"}), &dir, &path, &mut diag).is_none());
        let errors: Vec<String> = diag.errors().iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors[0].starts_with(
                "config.json: ringbar.management.url: \"http://x\": expected a ws:// or wss:// URL"
            ),
            "{errors:?}"
        );
        assert_eq!(
            errors[1],
            "config.json: ringbar.management.uri: unknown key: did you mean `url`?"
        );
        assert!(
            errors[2].starts_with("config.json: ringbar.management"),
            "{errors:?}"
        );
    }

    #[test]
    fn ca_files_resolve_against_the_node_directory_and_must_exist() {
        let dir = std::env::temp_dir().join(format!("ringbar-uplink-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ca.pem"), "x").unwrap();
        let path = Path::root().key("ringbar").key("management");
        let mut diag = Diagnostics::new("config.json");
        let value = json!({"url": "wss://m/ws", "ca_certificates": ["ca.pem"]});
        let uplink = convert(&value, &dir, &path, &mut diag).unwrap();
        assert_eq!(uplink.ca_certificates, [dir.join("ca.pem")]);
        let value = json!({"url": "wss://m/ws", "ca_certificates": ["ca.pem", "gone.pem"]});
        assert!(convert(&value, &dir, &path, &mut diag).is_none());
        let errors: Vec<String> = diag.errors().iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("config.json: ringbar.management.ca_certificates[1]: "),
            "{errors:?}"
        );
        assert!(errors[0].contains("gone.pem is not a file"), "{errors:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
