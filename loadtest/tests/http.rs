//! `http` against a real ringbar's REST bridge `publisher` and `caller`
//! paths: every request answered with 200, signed ones too, connections
//! opened again after the router's per-connection limit; a wrong secret is
//! refused; calls reach the load generator's own callee.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Router, SIGNED_KEY, SIGNED_SECRET, figure, load_core, loadtest};

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
    let args = |callee: bool| {
        let mut args = vec![
            "http".to_owned(),
            "--url".to_owned(),
            router.call_url.clone(),
            "--spawn".to_owned(),
            router.spawn_line(),
            "--load-cores".to_owned(),
            load_core(),
            "--duration".to_owned(),
            "1".to_owned(),
            "--body".to_owned(),
            r#"{"procedure": "com.example.echo", "args": ["hello"]}"#.to_owned(),
        ];
        if callee {
            args.extend([
                "--callee-url".to_owned(),
                router.ws_url.clone(),
                "--callee-procedure".to_owned(),
                "com.example.echo".to_owned(),
            ]);
        }
        args
    };
    let run = |callee| {
        let args = args(callee);
        loadtest(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let served = run(true);
    let responses = figure(&served, "responses");
    assert!(responses > 100.0, "{served:#}");
    assert_eq!(figure(&served, "succeeded"), responses, "{served:#}");
    // Without the callee the same calls are answered with the WAMP error
    // in a 200 body (as Crossbar.io answers them), counted as refused.
    let unserved = run(false);
    assert!(figure(&unserved, "refused") > 0.0, "{unserved:#}");
    assert_eq!(figure(&unserved, "succeeded"), 0.0, "{unserved:#}");
}
