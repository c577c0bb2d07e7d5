//! `reference-server` under loadtest's own checks, on real loopback
//! sockets: a fan-out delivers every event once and in order, and every
//! call is answered, over WebSocket and RawSocket.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{figure, free_port, spawned};
use serde_json::Value;

/// Runs loadtest `mode` with `serializer` against a reference server it
/// spawns at `url`, with the mode's own `options`; the report.
fn against_reference(mode: &str, url: &str, serializer: &str, options: &[&str]) -> Value {
    let spawn = format!(
        "{} reference-server --url {url}",
        env!("CARGO_BIN_EXE_loadtest")
    );
    let mut args = vec!["--serializer", serializer];
    args.extend_from_slice(options);
    spawned(mode, url, &spawn, &args)
}

#[test]
fn a_fanout_delivers_every_event_in_order() {
    for (url, serializer) in [
        (format!("ws://127.0.0.1:{}/ws", free_port()), "json"),
        (format!("rs://127.0.0.1:{}", free_port()), "msgpack"),
    ] {
        let report = against_reference(
            "fanout",
            &url,
            serializer,
            &[
                "--subscribers",
                "50",
                "--topics",
                "3",
                "--publishers",
                "2",
                "--rate",
                "600",
                "--duration",
                "1",
            ],
        );
        let expected = figure(&report, "events_expected");
        // 600 publications/s over 3 topics of about 17 subscribers each.
        assert!(expected > 5000.0, "{report:#}");
        assert_eq!(figure(&report, "events_received"), expected, "{report:#}");
        assert_eq!(figure(&report, "lost"), 0.0);
        assert_eq!(figure(&report, "out_of_order"), 0.0);
        assert_eq!(figure(&report, "disconnected"), 0.0);
    }
}

#[test]
fn every_call_is_answered() {
    for (url, serializer) in [
        (format!("ws://127.0.0.1:{}/ws", free_port()), "msgpack"),
        (format!("rs://127.0.0.1:{}", free_port()), "json"),
    ] {
        let report = against_reference(
            "rpc",
            &url,
            serializer,
            &["--callers", "4", "--window", "5", "--duration", "1"],
        );
        let made = figure(&report, "calls_made");
        assert!(made > 100.0, "{report:#}");
        assert_eq!(figure(&report, "calls_answered"), made, "{report:#}");
        assert_eq!(figure(&report, "call_errors"), 0.0);
    }
}
