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
