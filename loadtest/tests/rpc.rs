//! `rpc` against a real ringbar: every call answered, none lost.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Router, figure, spawned};

#[test]
fn every_call_is_answered() {
    let router = Router::new("rpc");
    let spawn = router.spawn_line();
    for (url, serializer, callees) in [
        (&router.ws_url, "json", "1"),
        (&router.rs_url, "msgpack", "3"),
    ] {
        let report = spawned(
            "rpc",
            url,
            &spawn,
            &[
                "--serializer",
                serializer,
                "--callees",
                callees,
                "--callers",
                "4",
                "--window",
                "5",
                "--duration",
                "1",
            ],
        );
        let made = figure(&report, "calls_made");
        assert!(made > 0.0, "{report:#}");
        assert_eq!(figure(&report, "calls_answered"), made);
        assert_eq!(figure(&report, "calls_unanswered"), 0.0);
        assert_eq!(figure(&report, "call_errors"), 0.0);
        assert!(figure(&report, "latency_p99_us") > 0.0);
    }
}

/// `--callee-urls`: the callees join the router's RawSocket transport,
/// the callers its WebSocket one; every call still answered.
#[test]
fn callees_at_other_urls_answer_every_call() {
    let router = Router::new("rpc-callee-urls");
    let spawn = router.spawn_line();
    let report = spawned(
        "rpc",
        &router.ws_url,
        &spawn,
        &[
            "--callee-urls",
            &format!("{},{}", router.rs_url, router.ws_url),
            "--callees",
            "2",
            "--callers",
            "3",
            "--window",
            "4",
            "--duration",
            "1",
        ],
    );
    let made = figure(&report, "calls_made");
    assert!(made > 0.0, "{report:#}");
    assert_eq!(figure(&report, "calls_answered"), made);
    assert_eq!(figure(&report, "calls_unanswered"), 0.0);
    assert_eq!(figure(&report, "call_errors"), 0.0);
    let title = report["title"].as_str().unwrap_or_default();
    assert!(title.contains("; callees at 127.0.0.1:"), "{title}");
}

/// A procedure no callee serves: the probe calls give up after 10 s and
/// say why, instead of measuring errors.
#[test]
fn a_procedure_nobody_serves_fails_the_probe() {
    let router = Router::new("rpc-probe");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_loadtest"))
        .args([
            "rpc",
            "--url",
            &router.ws_url,
            "--spawn",
            &router.spawn_line(),
            "--load-cores",
            &common::load_core(),
            "--procedure",
            "com.example.nobody",
            "--callers",
            "1",
            "--duration",
            "1",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("com.example.nobody")
            && stderr.contains("wamp.error.no_such_procedure after 10 s"),
        "{stderr}"
    );
}
