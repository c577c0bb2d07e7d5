//! `http` against a real ringbar's REST bridge `publisher` and `caller`
//! paths: every request answered with 200, signed ones too, connections
//! opened again after the router's per-connection limit; a wrong secret is
//! refused; calls reach the load generator's own callee.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Router, SIGNED_KEY, SIGNED_SECRET, figure, load_core, loadtest, spawned};

#[test]
fn unsigned_and_signed_publishes_are_all_answered() {
    let router = Router::new("http");
    let spawn = router.spawn_line();
    let core = load_core();
    for (url, signing) in [
        (&router.publish_url, None),
        (&router.signed_url, Some(SIGNED_SECRET)),
    ] {
        let mut args = vec![
            "http",
            "--url",
            url,
            "--spawn",
            &spawn,
            "--load-cores",
            &core,
            "--connections",
            "2",
            "--pipeline",
            "4",
            "--duration",
            "1",
        ];
        if let Some(secret) = signing {
            args.extend(["--key", SIGNED_KEY, "--secret", secret]);
        }
        let report = loadtest(&args);
        let responses = figure(&report, "responses");
        assert!(responses > 2000.0, "{report:#}");
        assert_eq!(figure(&report, "succeeded"), responses, "{report:#}");
        assert_eq!(figure(&report, "refused"), 0.0, "{report:#}");
        assert!(
            figure(&report, "reconnects") >= 1.0,
            "ringbar closes a connection after 1,000 requests: {report:#}"
        );
        assert!(figure(&report, "latency_p99_us") > 0.0);
    }
}

#[test]
fn a_wrong_secret_is_refused_and_reported() {
    let router = Router::new("http-refused");
    let report = loadtest(&[
        "http",
        "--url",
        &router.signed_url,
        "--spawn",
        &router.spawn_line(),
        "--load-cores",
        &load_core(),
        "--duration",
        "0.5",
        "--key",
        SIGNED_KEY,
        "--secret",
        "not-the-secret",
    ]);
    assert_eq!(figure(&report, "succeeded"), 0.0, "{report:#}");
    assert!(figure(&report, "refused") > 0.0, "{report:#}");
    let notes = report["notes"].to_string();
    assert!(
        notes.contains("401") && notes.contains("signature secret not valid"),
        "{notes}"
    );
}

#[test]
fn calls_reach_the_load_generators_own_callee() {
    let router = Router::new("http-callee");
    let spawn = router.spawn_line();
    let body = r#"{"procedure": "com.example.echo", "args": ["hello"]}"#;
    let mut options = vec!["--duration", "1", "--body", body];
    let unserved = spawned("http", &router.call_url, &spawn, &options);
    options.extend([
        "--callee-url",
        &router.ws_url,
        "--callee-procedure",
        "com.example.echo",
    ]);
    let served = spawned("http", &router.call_url, &spawn, &options);
    let responses = figure(&served, "responses");
    assert!(responses > 100.0, "{served:#}");
    assert_eq!(figure(&served, "succeeded"), responses, "{served:#}");
    // Without the callee the same calls are answered with the WAMP error
    // in a 200 body (as Crossbar.io answers them), counted as refused.
    assert!(figure(&unserved, "refused") > 0.0, "{unserved:#}");
    assert_eq!(figure(&unserved, "succeeded"), 0.0, "{unserved:#}");
}
