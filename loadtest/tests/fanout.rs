//! The fan-out's own counting, checked against a real ringbar: exact at a
//! low rate in every transport and serializer, loss reported (not hidden)
//! for a slow subscriber, and the search and churn modes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Router, figure, free_port, load_core, loadtest, ringbar_bin};

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

#[test]
fn subscribers_spread_over_subscriber_urls_are_counted_exactly() {
    let router = Router::new("spread");
    // One router on two transports stands for two nodes.
    let subscriber_urls = format!("{},{}", router.rs_url, router.ws_url);
    let url = router.ws_url.clone();
    let report = fanout(
        &router,
        &url,
        &[
            "--subscriber-urls",
            &subscriber_urls,
            "--serializer",
            "msgpack",
            "--subscribers",
            "10",
            "--topics",
            "2",
            "--rate",
            "200",
            "--duration",
            "1",
        ],
    );
    assert_exact(&report);
    let title = report["title"].as_str().unwrap();
    assert!(title.contains("; subscribers at 127.0.0.1:"), "{title}");
}

#[test]
fn a_subscriber_url_or_router_pid_that_is_not_there_is_an_error() {
    let router = Router::new("nobody");
    let nobody = format!("ws://127.0.0.1:{}/ws", free_port());
    let spawn = router.spawn_line();
    let core = load_core();
    let failure = loadtest_fails(&[
        "fanout",
        "--url",
        &router.ws_url,
        "--spawn",
        &spawn,
        "--load-cores",
        &core,
        "--subscriber-urls",
        &nobody,
        "--duration",
        "1",
    ]);
    assert!(failure.contains("could not be set up"), "{failure}");
    let failure = loadtest_fails(&[
        "fanout",
        "--url",
        &router.ws_url,
        "--router-pid",
        "4000000000",
    ]);
    assert!(
        failure.contains("--router-pid 4000000000: no such process"),
        "{failure}"
    );
}

#[test]
fn several_router_pids_are_summed_and_shown_each() {
    let router = Router::new("pids");
    let log = router.dir.join("node.log");
    let mut node = Command::new(ringbar_bin())
        .arg("start")
        .arg(&router.dir)
        .args(["--cores", "1"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut other = Command::new("sleep").arg("60").spawn().unwrap();
    wait_for(&router.ws_url, &mut node, &log);
    let pids = format!("{},{}", node.id(), other.id());
    let core = load_core();
    let report = loadtest(&[
        "fanout",
        "--url",
        &router.ws_url,
        "--router-pid",
        &pids,
        "--load-cores",
        &core,
        "--subscribers",
        "5",
        "--rate",
        "100",
        "--duration",
        "1",
    ]);
    let _ = node.kill();
    let _ = other.kill();
    let _ = (node.wait(), other.wait());
    assert_exact(&report);
    for total in ["router_cpu_ns_per_event", "router_rss_mib"] {
        let (one, two) = (
            total.replacen("router", "router1", 1),
            total.replacen("router", "router2", 1),
        );
        let sum = figure(&report, &one) + figure(&report, &two);
        assert!(
            (figure(&report, total) - sum).abs() < 1e-6,
            "{total}: {report:#}"
        );
    }
    assert!(figure(&report, "router1_rss_mib") > figure(&report, "router2_rss_mib"));
    let notes = report["notes"].to_string();
    assert!(
        notes.contains(&format!("router1 = pid {} (ringbar)", node.id()))
            && notes.contains(&format!("router2 = pid {} (sleep)", other.id())),
        "{notes}"
    );
}

/// Runs loadtest with `args`, which must fail; its error output.
fn loadtest_fails(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_loadtest"))
        .args(args)
        .output()
        .unwrap();
    assert!(!output.status.success(), "loadtest {args:?} succeeded");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Waits until the WebSocket URL's port of `node` accepts; a node that
/// exits first fails the test with its log.
fn wait_for(url: &str, node: &mut std::process::Child, log: &std::path::Path) {
    let authority = url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(&authority).is_err() {
        if let Ok(Some(status)) = node.try_wait() {
            panic!(
                "the node exited ({status}) before listening on {authority}:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "nothing listens on {authority}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
