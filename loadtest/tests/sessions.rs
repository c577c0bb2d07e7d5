//! `conns` and `compare` against a real ringbar.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::{Router, figure, load_core, loadtest};

#[test]
fn conns_opens_every_session_and_measures_the_router() {
    let router = Router::new("conns");
    let spawn = router.spawn_line();
    let core = load_core();
    let report = loadtest(&[
        "conns",
        "--url",
        &router.rs_url,
        "--serializer",
        "cbor",
        "--spawn",
        &spawn,
        "--load-cores",
        &core,
        "--sessions",
        "200",
        "--connect-rate",
        "1000",
        "--duration",
        "0.2",
    ]);
    assert_eq!(figure(&report, "sessions_opened"), 200.0, "{report:#}");
    assert_eq!(figure(&report, "sessions_failed"), 0.0);
    assert!(figure(&report, "connect_p50_us") > 0.0);
    assert!(figure(&report, "router_rss_bytes_per_session") > 0.0);
}

#[test]
fn compare_alternates_and_prints_medians_and_ratios() {
    let a = Router::new("cmp-a");
    let core = load_core();
    let json =
        std::env::temp_dir().join(format!("loadtest-it-{}-compare.json", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_loadtest"))
        .args(["compare", "--a", &a.spawn_line(), "--b", &a.spawn_line()])
        .args([
            "--name-a",
            "first",
            "--name-b",
            "second",
            "--repeats",
            "2",
            "--json",
        ])
        .arg(&json)
        .args(["fanout", "--url", &a.ws_url, "--load-cores", &core])
        .args(["--subscribers", "5", "--rate", "100", "--duration", "0.5"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("| figure | unit | first | second | first/second |"),
        "{stdout}"
    );
    assert!(
        stdout.contains("| delivery_ratio |  | 1 (1–1) | 1 (1–1) | 1.00 |"),
        "{stdout}"
    );
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(value["a"]["runs"].as_array().unwrap().len(), 2);
    assert_eq!(value["b"]["runs"].as_array().unwrap().len(), 2);
    assert_eq!(value["medians"]["lost"]["a"], 0.0);
    std::fs::remove_file(json).unwrap();
}
