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

/// Checks that `url` is a WebSocket URL with a host: `ws://HOST[:PORT][/PATH]`
/// or `wss://...`; the error says what is wrong and what is expected.
pub(crate) fn check_url(url: &str) -> Result<(), String> {
    let expected =
        "expected ws://HOST:PORT/PATH or wss://HOST:PORT/PATH, e.g. ws://127.0.0.1:9000/ws";
    let Some(rest) = url
        .strip_prefix("ws://")
        .or_else(|| url.strip_prefix("wss://"))
    else {
        return Err(format!("\"{url}\" is not a WebSocket URL ({expected})"));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // An IPv6 host is bracketed: its colons are not the port's.
    let port_colon = authority
        .rfind(':')
        .filter(|&at| authority.rfind(']').is_none_or(|bracket| at > bracket));
    let (host, port) = match port_colon {
        Some(at) => (&authority[..at], Some(&authority[at + 1..])),
        None => (authority, None),
    };
    if host.is_empty() || host.chars().any(char::is_whitespace) || host.contains('@') {
        return Err(format!("\"{url}\" names no host ({expected})"));
    }
    if let Some(port) = port
        && !matches!(port.parse::<u16>(), Ok(1..))
    {
        return Err(format!(
            "\"{url}\" has no valid port (\"{port}\" is not in 1..65535; {expected})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn websocket_urls_are_accepted() {
        for url in [
            "ws://127.0.0.1:9000/ws",
            "wss://manage.example.com/ws",
            "ws://localhost:9000",
            "ws://[::1]:9000/ws",
        ] {
            assert_eq!(check_url(url), Ok(()), "{url}");
        }
    }

    #[test]
    fn other_urls_are_refused_with_the_reason() {
        let cases = [
            ("http://127.0.0.1:9000/ws", "is not a WebSocket URL"),
            ("127.0.0.1:9000", "is not a WebSocket URL"),
            ("ws:///ws", "names no host"),
            ("ws://:9000/ws", "names no host"),
            ("ws://user@host/ws", "names no host"),
            ("ws://host:0/ws", "has no valid port"),
            ("ws://host:99999/ws", "has no valid port"),
            ("ws://host:x/ws", "has no valid port"),
        ];
        for (url, reason) in cases {
            let error = check_url(url).unwrap_err();
            assert!(error.contains(reason), "{url}: {error}");
            assert!(error.contains("ws://127.0.0.1:9000/ws"), "{error}");
        }
    }

    #[test]
    fn errors_carry_the_path() {
        let mut diag = Diagnostics::new("config.json");
        let path = Path::root().key("ringbar").key("management");
        assert!(convert(&json!({"url": "http://x"}), &path, &mut diag).is_none());
        assert!(convert(&json!({"uri": "ws://x"}), &path, &mut diag).is_none());
        let errors: Vec<String> = diag.errors().iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].starts_with(
                "config.json: ringbar.management.url: \"http://x\" is not a WebSocket URL"
            ),
            "{errors:?}"
        );
        assert!(
            errors[1].starts_with("config.json: ringbar.management"),
            "{errors:?}"
        );
    }
}
