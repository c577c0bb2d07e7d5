//! `ringbar.management`: the management service a node connects to (its
//! uplink), written by `ringbar init DIR --management URL`.

use serde_json::Value;

use super::diag::{Diagnostics, Path};
use super::read::read;

/// The uplink setting: where the node's management service listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Uplink {
    /// The management service's WebSocket URL, e.g.
    /// `ws://127.0.0.1:9000/ws`.
    pub(crate) url: String,
}

/// `ringbar.management` as written in the file.
#[derive(Debug, serde::Deserialize)]
#[serde(expecting = "a management uplink object")]
struct UplinkFile {
    /// `url`.
    url: String,
}

/// Reads `ringbar.management` of the whole file `root`, when there is one.
pub(crate) fn from_root(root: &Value, diag: &mut Diagnostics) -> Option<Uplink> {
    let value = root.get("ringbar")?.get("management")?;
    convert(value, &Path::root().key("ringbar").key("management"), diag)
}

/// Reads `ringbar.management` at `path`; `None` with an error in `diag`
/// when it is not valid.
pub(crate) fn convert(value: &Value, path: &Path, diag: &mut Diagnostics) -> Option<Uplink> {
    let file: UplinkFile = read(value, path, diag)?;
    match check_url(&file.url) {
        Ok(()) => Some(Uplink { url: file.url }),
        Err(reason) => {
            diag.error(&path.key("url"), reason);
            None
        }
    }
}

/// Checks that `url` is a URL the uplink can open (`ws://HOST[:PORT][/PATH]`,
/// parsed by the client that will open it); the error says what is wrong
/// and what is expected.
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
        ] {
            assert_eq!(check_url(url), Ok(()), "{url}");
        }
    }

    #[test]
    fn other_urls_are_refused_with_the_reason() {
        let cases = [
            ("http://127.0.0.1:9000/ws", "expected a ws:// URL"),
            ("127.0.0.1:9000", "expected a ws:// URL"),
            (
                "wss://manage.example.com/ws",
                "wss:// uplinks are not supported yet",
            ),
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
        assert!(convert(&json!({"url": "http://x"}), &path, &mut diag).is_none());
        assert!(convert(&json!({"uri": "ws://x"}), &path, &mut diag).is_none());
        let errors: Vec<String> = diag.errors().iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors[0].starts_with(
                "config.json: ringbar.management.url: \"http://x\": expected a ws:// URL"
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
}
