//! `ringbar.metrics`: where the node serves its figures in the Prometheus
//! text format. Off when absent; `ringbar init` writes it on 127.0.0.1.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path as FsPath;

use ringbar_engine::config::Endpoint;
use serde_json::Value;

use super::convert::{self, Env};
use super::diag::{Diagnostics, Path};
use super::read::read;

/// The path served when the file names none.
pub(crate) const DEFAULT_PATH: &str = "/metrics";

/// The metrics endpoint setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Metrics {
    /// The TCP address to listen on.
    pub(crate) address: SocketAddr,
    /// The HTTP path that serves the figures (every other path is 404).
    pub(crate) path: String,
}

/// `ringbar.metrics` as written in the file.
#[derive(Debug, serde::Deserialize)]
#[serde(expecting = "a metrics object")]
struct MetricsFile {
    /// `endpoint`: a `tcp` endpoint, as a transport's.
    endpoint: Value,
    /// `path`: the HTTP path, `/metrics` when absent.
    #[serde(default)]
    path: Option<String>,
}

/// Reads `ringbar.metrics` of the whole file `root` (of the node directory
/// `dir`), when there is one; `None` with an error in `diag` when it is not
/// valid.
pub(crate) fn from_root(
    root: &Value,
    dir: &FsPath,
    env: Env<'_>,
    diag: &mut Diagnostics,
) -> Option<Metrics> {
    let value = root.get("ringbar")?.get("metrics")?;
    let path = Path::root().key("ringbar").key("metrics");
    let file: MetricsFile = read(value, &path, diag)?;
    let endpoint_path = path.key("endpoint");
    let address = match convert::endpoint(&file.endpoint, &endpoint_path, dir, env, diag)? {
        Endpoint::Tcp { tls: Some(_), .. } => {
            diag.error(
                &endpoint_path.key("tls"),
                "the metrics endpoint serves plain HTTP: remove \"tls\" (listen on 127.0.0.1 and put a TLS proxy in front to serve it further)",
            );
            return None;
        }
        // Metrics tell about the node: without an interface they stay on
        // this machine, where a transport would listen on every interface.
        Endpoint::Tcp { port, .. } if file.endpoint.get("interface").is_none() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
        }
        Endpoint::Tcp {
            interface, port, ..
        } => SocketAddr::new(interface.unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED)), port),
        Endpoint::Unix { .. } => {
            diag.error(
                &endpoint_path.key("type"),
                "the metrics endpoint listens on TCP only: use {\"type\": \"tcp\", \"interface\": \"127.0.0.1\", \"port\": 8082}",
            );
            return None;
        }
    };
    let http_path = file.path.unwrap_or_else(|| DEFAULT_PATH.to_owned());
    if let Err(reason) = check_path(&http_path) {
        diag.error(&path.key("path"), reason);
        return None;
    }
    Some(Metrics {
        address,
        path: http_path,
    })
}

/// An HTTP path: `/` then visible ASCII, no query.
fn check_path(path: &str) -> Result<(), String> {
    if path.starts_with('/')
        && path
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#')
    {
        Ok(())
    } else {
        Err(format!(
            "\"{path}\" is not an HTTP path: give one that starts with / and has no spaces, ? or #, e.g. \"{DEFAULT_PATH}\""
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(metrics: Value) -> (Option<Metrics>, Vec<String>) {
        let mut diag = Diagnostics::new("config.json");
        let env = |name: &str| (name == "METRICS_PORT").then(|| "9300".to_owned());
        let root = json!({"ringbar": {"metrics": metrics}});
        let metrics = from_root(&root, FsPath::new("/node"), &env, &mut diag);
        let errors = diag.errors().iter().map(ToString::to_string).collect();
        (metrics, errors)
    }

    #[test]
    fn absent_is_off() {
        let mut diag = Diagnostics::new("config.json");
        let env = |_: &str| None;
        let root = json!({"ringbar": {"cores": 1}});
        assert_eq!(
            from_root(&root, FsPath::new("/node"), &env, &mut diag),
            None
        );
        assert!(!diag.has_errors());
    }

    #[test]
    fn a_tcp_endpoint_and_a_path_are_read() {
        let (metrics, errors) = run(json!({
            "endpoint": {"type": "tcp", "interface": "127.0.0.1", "port": 9100},
            "path": "/prometheus"
        }));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            metrics,
            Some(Metrics {
                address: "127.0.0.1:9100".parse().unwrap(),
                path: "/prometheus".into()
            })
        );
        let (metrics, _) = run(json!({"endpoint": {"type": "tcp", "port": "$METRICS_PORT"}}));
        let metrics = metrics.unwrap();
        assert_eq!(metrics.address, "127.0.0.1:9300".parse().unwrap());
        assert_eq!(metrics.path, DEFAULT_PATH);
        let (metrics, _) =
            run(json!({"endpoint": {"type": "tcp", "interface": "0.0.0.0", "port": 9100}}));
        assert_eq!(metrics.unwrap().address, "0.0.0.0:9100".parse().unwrap());
    }

    #[test]
    fn bad_settings_are_named_with_the_fix() {
        let cases = [
            (
                json!({"endpoint": {"type": "tcp", "port": 70000}}),
                "config.json: ringbar.metrics.endpoint.port: 70000 is not a port (1-65535)",
            ),
            (
                json!({"endpoint": {"type": "unix", "path": "m.sock"}}),
                "config.json: ringbar.metrics.endpoint.type: the metrics endpoint listens on TCP only",
            ),
            (
                json!({"endpoint": {"type": "tcp", "port": 9100, "tls": {"key": "k", "certificate": "c"}}}),
                "config.json: ringbar.metrics.endpoint.tls: the metrics endpoint serves plain HTTP",
            ),
            (
                json!({"endpoint": {"type": "tcp", "port": 9100}, "path": "metrics"}),
                "config.json: ringbar.metrics.path: \"metrics\" is not an HTTP path",
            ),
            (
                json!({"path": "/metrics"}),
                "config.json: ringbar.metrics: missing field `endpoint`",
            ),
        ];
        for (metrics, expected) in cases {
            let (read, errors) = run(metrics.clone());
            assert_eq!(read, None, "{metrics}");
            assert_eq!(errors.len(), 1, "{metrics}: {errors:?}");
            assert!(errors[0].starts_with(expected), "{metrics}: {errors:?}");
        }
    }
}
