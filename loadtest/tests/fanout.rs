//! The fan-out's own counting, checked against a real ringbar: exact at a
//! low rate in every transport and serializer, loss reported (not hidden)
//! for a slow subscriber, and the search and churn modes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Router, figure, load_core, loadtest};

fn fanout(router: &Router, url: &str, extra: &[&str]) -> serde_json::Value {
    let spawn = router.spawn_line();
    let core = load_core();
    let mut args = vec![
        "fanout",
        "--url",
        url,
        "--spawn",
        &spawn,
        "--load-cores",
        &core,
    ];
    args.extend_from_slice(extra);
    loadtest(&args)
}

fn assert_exact(report: &serde_json::Value) {
    let expected = figure(report, "events_expected");
    assert!(expected > 0.0, "nothing was published: {report:#}");
    assert_eq!(figure(report, "events_received"), expected, "{report:#}");
    assert_eq!(figure(report, "delivery_ratio"), 1.0);
    assert_eq!(figure(report, "lost"), 0.0);
    assert_eq!(figure(report, "out_of_order"), 0.0);
    assert_eq!(figure(report, "disconnected"), 0.0);
    assert!(figure(report, "latency_p50_us") > 0.0);
    // Present means the router's /proc entry was read; its value may be 0
    // in a short run (CPU time comes in 10 ms ticks).
    assert!(figure(report, "router_cpu_ns_per_event") >= 0.0);
    assert!(figure(report, "load_cores_used") >= 0.0);
}

#[test]
fn counts_are_exact_at_a_low_rate_in_every_transport_and_serializer() {
    let router = Router::new("exact");
    let ca = router.ca.to_str().unwrap();
    for (url, serializer, tls) in [
        (&router.ws_url, "json", false),
        (&router.rs_url, "msgpack", false),
        (&router.ws_url, "cbor", false),
        (&router.wss_url, "json", true),
        (&router.rss_url, "cbor", true),
    ] {
        let mut args = vec![
            "--serializer",
            serializer,
            "--subscribers",
            "20",
            "--topics",
            "3",
            "--publishers",
            "2",
            "--rate",
            "300",
            "--duration",
            "1",
        ];
        if tls {
            args.extend(["--tls-ca", ca]);
        }
        let report = fanout(&router, url, &args);
        assert_exact(&report);
        // 300 publications/s over 3 topics of about 7 subscribers each.
        let events = figure(&report, "events_received");
        assert!((1000.0..=3000.0).contains(&events), "{events}");
    }
}

#[test]
fn deflate_events_are_inflated_counted_and_smaller_on_the_wire() {
    let router = Router::new("deflate");
    let args = [
        "--subscribers",
        "10",
        "--payload",
        "512",
        "--rate",
        "200",
        "--duration",
        "1",
    ];
    let plain = fanout(&router, &router.ws_url, &args);
    let deflated = fanout(
        &router,
        &router.ws_url,
        &[&args[..], &["--deflate"]].concat(),
    );
    assert_exact(&plain);
    assert_exact(&deflated);
    let (plain, deflated) = (
        figure(&plain, "wire_bytes_per_event"),
        figure(&deflated, "wire_bytes_per_event"),
    );
    assert!(plain > 512.0, "{plain}");
    assert!(deflated < plain / 4.0, "{deflated} vs {plain}");
}

#[test]
fn a_slow_subscriber_shows_as_loss() {
    let router = Router::new("slow");
    let url = router.rs_url.clone();
    let report = fanout(
        &router,
        &url,
        &[
            "--subscribers",
            "2",
            "--slow-subscribers",
            "1",
            "--slow-delay-ms",
            "20",
            "--rate",
            "max",
            "--payload",
            "200",
            "--duration",
            "2",
        ],
    );
    let expected = figure(&report, "events_expected");
    let received = figure(&report, "events_received");
    let lost = figure(&report, "lost");
    assert!(
        lost > 0.0,
        "the slow subscriber cannot have received everything: {report:#}"
    );
    assert_eq!(
        received + lost,
        expected,
        "loss is what was expected and not received"
    );
    assert!(figure(&report, "delivery_ratio") < 1.0);
    assert!(figure(&report, "subscribers_with_loss") >= 1.0);
    assert!(figure(&report, "max_lost_per_subscriber") > 0.0);
}

#[test]
fn find_max_reports_the_best_passing_rate() {
    let router = Router::new("findmax");
    let url = router.ws_url.clone();
    let report = fanout(
        &router,
        &url,
        &[
            "--subscribers",
            "5",
            "--find-max",
            "--start-rate",
            "100",
            "--probes",
            "2",
            "--max-p99-ms",
            "1000",
            "--duration",
            "0.5",
        ],
    );
    // Two probes: 100 and 200 publications/s, both easy for any router.
    assert_eq!(
        figure(&report, "max_loss_free_publications_per_s"),
        200.0,
        "{report:#}"
    );
    assert_exact(&report);
    let notes = report["notes"].to_string();
    assert!(
        notes.contains("100 pub/s: pass") && notes.contains("200 pub/s: pass"),
        "{notes}"
    );
}

#[test]
fn churn_keeps_the_fanout_exact() {
    let router = Router::new("churn");
    let spawn = router.spawn_line();
    let core = load_core();
    let report = loadtest(&[
        "churn",
        "--url",
        &router.ws_url,
        "--spawn",
        &spawn,
        "--load-cores",
        &core,
        "--subscribers",
        "10",
        "--rate",
        "200",
        "--churn-rate",
        "40",
        "--churn-hold-ms",
        "100",
        "--duration",
        "1.5",
    ]);
    assert_exact(&report);
    assert!(figure(&report, "churn_cycles_per_s") > 0.0, "{report:#}");
    assert_eq!(figure(&report, "churn_failed"), 0.0);
}
