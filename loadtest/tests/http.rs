//! `http` against a real ringbar's REST bridge `publisher` paths: every
//! request answered with 200, signed ones too, connections opened again
//! after the router's per-connection limit; a wrong secret is refused.

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
