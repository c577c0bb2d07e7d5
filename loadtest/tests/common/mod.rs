//! Runs the `loadtest` binary against a real ringbar (built from this
//! workspace) that it starts itself with `--spawn`, on free loopback ports,
//! and reads back the figures it wrote with `--json`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

/// The key of the router's signed `publisher` path.
#[allow(dead_code)] // each test binary uses its own part
pub(crate) const SIGNED_KEY: &str = "loadtest-key";
/// Its secret.
#[allow(dead_code)]
pub(crate) const SIGNED_SECRET: &str = "loadtest-secret";

/// A node directory with a config for a ringbar on four free ports.
#[allow(dead_code)] // each test binary uses its own part
pub(crate) struct Router {
    pub(crate) dir: PathBuf,
    pub(crate) ws_url: String,
    pub(crate) rs_url: String,
    /// WebSocket over TLS.
    pub(crate) wss_url: String,
    /// RawSocket over TLS.
    pub(crate) rss_url: String,
    /// The REST bridge's `publisher` path, unsigned.
    pub(crate) publish_url: String,
    /// A `publisher` path that takes requests signed with
    /// [`SIGNED_KEY`] and [`SIGNED_SECRET`].
    pub(crate) signed_url: String,
    /// The REST bridge's `caller` path.
    pub(crate) call_url: String,
    /// The PEM file the TLS transports' certificate chains to (it is
    /// self-signed, for 127.0.0.1).
    pub(crate) ca: PathBuf,
}

#[allow(dead_code)] // each test binary uses its own part
impl Router {
    /// Writes the config (realm1, anonymous may do everything; WebSocket
    /// at /ws, with permessage-deflate for clients that offer it, and
    /// RawSocket, every serializer, plain and over TLS).
    pub(crate) fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("loadtest-it-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let ca = dir.join("server.crt");
        std::fs::write(&ca, certified.cert.pem()).unwrap();
        std::fs::write(
            dir.join("server.key"),
            certified.signing_key.serialize_pem(),
        )
        .unwrap();
        let tls = r#"{"key": "server.key", "certificate": "server.crt"}"#;
        let [ws, rs, wss, rss] = free_ports();
        let config = format!(
            r#"{{"version": 2, "controller": {{}}, "workers": [{{"type": "router",
 "realms": [{{"name": "realm1", "roles": [{{"name": "anonymous", "permissions": [
   {{"uri": "", "match": "prefix", "allow": {{"call": true, "register": true, "publish": true, "subscribe": true}},
    "disclose": {{"caller": false, "publisher": false}}, "cache": true}}]}}]}}],
 "transports": [
  {{"type": "web", "endpoint": {{"type": "tcp", "interface": "127.0.0.1", "port": {ws}}},
   "paths": {{"ws": {{"type": "websocket", "serializers": ["json", "msgpack", "cbor"],
     "options": {{"compression": {{"deflate": {{}}}}}}}},
     "publish": {{"type": "publisher", "realm": "realm1", "role": "anonymous"}},
     "signed": {{"type": "publisher", "realm": "realm1", "role": "anonymous",
       "options": {{"key": "{SIGNED_KEY}", "secret": "{SIGNED_SECRET}", "timestamp_delta_limit": 5}}}},
     "call": {{"type": "caller", "realm": "realm1", "role": "anonymous"}}}}}},
  {{"type": "rawsocket", "endpoint": {{"type": "tcp", "interface": "127.0.0.1", "port": {rs}}},
   "serializers": ["json", "msgpack", "cbor"]}},
  {{"type": "websocket", "endpoint": {{"type": "tcp", "interface": "127.0.0.1", "port": {wss}, "tls": {tls}}},
   "serializers": ["json", "msgpack", "cbor"]}},
  {{"type": "rawsocket", "endpoint": {{"type": "tcp", "interface": "127.0.0.1", "port": {rss}, "tls": {tls}}},
   "serializers": ["json", "msgpack", "cbor"]}}]}}]}}"#
        );
        std::fs::write(dir.join("config.json"), config).unwrap();
        Self {
            dir,
            ws_url: format!("ws://127.0.0.1:{ws}/ws"),
            rs_url: format!("rs://127.0.0.1:{rs}"),
            wss_url: format!("wss://127.0.0.1:{wss}/"),
            rss_url: format!("rss://127.0.0.1:{rss}"),
            publish_url: format!("http://127.0.0.1:{ws}/publish"),
            signed_url: format!("http://127.0.0.1:{ws}/signed"),
            call_url: format!("http://127.0.0.1:{ws}/call"),
            ca,
        }
    }

    /// The `--spawn` command line of this router on one core.
    pub(crate) fn spawn_line(&self) -> String {
        format!(
            "{} start {} --cores 1",
            ringbar_bin().display(),
            self.dir.display()
        )
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[allow(dead_code)] // each test binary uses its own part
/// The ringbar binary: `$RINGBAR_BIN`, or the one beside `loadtest` in this
/// build's target directory (`cargo test --workspace` builds both).
pub(crate) fn ringbar_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("RINGBAR_BIN") {
        return bin.into();
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_loadtest")).with_file_name("ringbar");
    assert!(
        bin.exists(),
        "{} is missing: build it first (cargo build -p ringbar, or cargo test --workspace), or set RINGBAR_BIN",
        bin.display()
    );
    bin
}

/// Runs `loadtest ARGS --json FILE` and returns the JSON report; panics
/// with the tool's output when it fails.
pub(crate) fn loadtest(args: &[&str]) -> Value {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let json = std::env::temp_dir().join(format!(
        "loadtest-it-{}-{}.json",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let output = Command::new(env!("CARGO_BIN_EXE_loadtest"))
        .args(args)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "loadtest {args:?} failed:\n{stdout}\n{stderr}"
    );
    let value: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let _ = std::fs::remove_file(&json);
    value
}

/// Figure `key` of a report.
pub(crate) fn figure(report: &Value, key: &str) -> f64 {
    report["figures"][key]["value"]
        .as_f64()
        .unwrap_or_else(|| panic!("no figure {key} in {report:#}"))
}

/// Runs loadtest `mode` against the router at `url` that `spawn` starts,
/// on the load core, with the mode's own `options`; the report.
#[allow(dead_code)] // each test binary uses its own part
pub(crate) fn spawned(mode: &str, url: &str, spawn: &str, options: &[&str]) -> Value {
    let core = load_core();
    let mut args = vec![mode, "--url", url, "--spawn", spawn, "--load-cores", &core];
    args.extend_from_slice(options);
    loadtest(&args)
}

/// The CPU the load generator runs on in tests: the last one.
pub(crate) fn load_core() -> String {
    (std::thread::available_parallelism().map_or(1, |n| n.get()) - 1).to_string()
}

/// A port free on loopback now.
#[allow(dead_code)] // each test binary uses its own part
pub(crate) fn free_port() -> u16 {
    let [port] = free_ports();
    port
}

/// `N` different ports free on loopback now: all are held until each is
/// known, so none is handed out twice (one at a time, the kernel may give
/// the same port again once the first listener is closed).
pub(crate) fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: [TcpListener; N] =
        std::array::from_fn(|_| TcpListener::bind("127.0.0.1:0").unwrap());
    listeners.map(|l| l.local_addr().unwrap().port())
}
