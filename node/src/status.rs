//! `ringbar status DIR`: whether the node of a directory runs, and its
//! figures, read from its control socket.

use std::path::Path;
use std::process::ExitCode;

use serde_json::Value;

use crate::control;
use crate::pidfile::{self, PID_FILE};

/// The exit code when no node runs (as LSB init scripts use it).
pub(crate) const EXIT_NOT_RUNNING: u8 = 3;

/// Prints the status of the node of `dir` (as JSON with `json`): exit 0
/// when it runs, 3 when it does not, 1 when it runs but does not answer.
pub(crate) fn run(dir: &Path, json: bool) -> ExitCode {
    let pid = pidfile::running_pid(&dir.join(PID_FILE));
    let Some(pid) = pid else {
        if json {
            println!("{}", serde_json::json!({ "running": false }));
        } else {
            println!("No node is running from {}.", dir.display());
        }
        return ExitCode::from(EXIT_NOT_RUNNING);
    };
    match control::request(dir, "status") {
        Ok(status) if json => {
            println!("{status}");
            ExitCode::SUCCESS
        }
        Ok(status) => {
            print!("{}", describe(dir, &status));
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!(
                "ringbar: a node runs from {} (PID {pid}) but its control socket {} does not answer: {error}",
                dir.display(),
                dir.join(control::SOCKET_FILE).display()
            );
            ExitCode::from(crate::EXIT_FAILURE)
        }
    }
}

/// The status document as lines for a person.
fn describe(dir: &Path, status: &Value) -> String {
    let n = |key: &str| status.get(key).and_then(Value::as_u64).unwrap_or(0);
    let f = |key: &str| status.get(key).and_then(Value::as_f64).unwrap_or(0.0);
    let transports: Vec<String> = status
        .get("transports")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|t| {
                    let s = |key: &str| t.get(key).and_then(Value::as_str).unwrap_or("?");
                    format!("{} {} on {}", s("id"), s("type"), s("endpoint"))
                })
                .collect()
        })
        .unwrap_or_default();
    let per_core: Vec<String> = status
        .get("sessions_per_core")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .enumerate()
                .map(|(core, n)| format!("core {core}: {}", n.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default();
    let uptime = n("uptime_s");
    let guests = describe_guests(status);
    let bridges = describe_bridges(status);
    let text = format!(
        "Node running from {} (PID {}, up {}).\n  ringbar {}, {} core{}, {}\n  transports: {}\n  sessions: {} ({})\n  messages in: {:.0}/s, events out: {:.0}/s\n",
        dir.display(),
        n("pid"),
        format_duration(uptime),
        status.get("version").and_then(Value::as_str).unwrap_or("?"),
        n("cores"),
        if n("cores") == 1 { "" } else { "s" },
        status.get("io").and_then(Value::as_str).unwrap_or("?"),
        transports.join("; "),
        n("sessions"),
        per_core.join(", "),
        f("messages_in_per_s"),
        f("events_out_per_s"),
    );
    let text = match describe_cluster(status) {
        Some(cluster) => format!("{text}  cluster: {cluster}\n"),
        None => text,
    };
    let text = if guests.is_empty() {
        text
    } else {
        format!("{text}  guests: {}\n", guests.join("; "))
    };
    if bridges.is_empty() {
        text
    } else {
        format!("{text}  bridges: {}\n", bridges.join("; "))
    }
}

/// `node-a, connected to NATS, 2 other nodes; in 1,234 messages (56 KiB),
/// out 2,345 (78 KiB), 0 not sent`, when the node is in a cluster.
fn describe_cluster(status: &Value) -> Option<String> {
    let cluster = status.get("cluster").filter(|c| c.is_object())?;
    let n = |key: &str| cluster.get(key).and_then(Value::as_u64).unwrap_or(0);
    let node = cluster.get("node").and_then(Value::as_str).unwrap_or("?");
    let link = if cluster.get("connected").and_then(Value::as_bool) == Some(true) {
        let peers = n("peers");
        let plural = if peers == 1 { "" } else { "s" };
        format!("connected to NATS, {peers} other node{plural}")
    } else {
        "NATS unreachable".to_owned()
    };
    let unreadable = match n("unreadable") {
        0 => String::new(),
        unreadable => format!(", {} unreadable", grouped(unreadable)),
    };
    Some(format!(
        "{node}, {link}; in {} messages ({}), out {} ({}), {} not sent{unreadable}",
        grouped(n("messages_in")),
        format_bytes(n("bytes_in")),
        grouped(n("messages_out")),
        format_bytes(n("bytes_out")),
        grouped(n("not_sent")),
    ))
}

/// `rest 2/2 joined (5 calls, 1 error; 10 events, 2 dropped)` for each
/// bridge worker.
fn describe_bridges(status: &Value) -> Vec<String> {
    let Some(bridges) = status.get("bridges").and_then(Value::as_array) else {
        return Vec::new();
    };
    bridges
        .iter()
        .map(|bridge| {
            let n = |key: &str| bridge.get(key).and_then(Value::as_u64).unwrap_or(0);
            let id = bridge.get("id").and_then(Value::as_str).unwrap_or("?");
            format!(
                "{id} {}/{} joined ({} calls, {} errors; {} events, {} forwarded, {} dropped)",
                n("joined"),
                n("components"),
                n("calls"),
                n("call_errors"),
                n("events"),
                n("forwarded"),
                n("dropped_queue_full") + n("dropped_failed"),
            )
        })
        .collect()
}

/// `backend running (PID 42, 1 restart)` for each guest worker.
fn describe_guests(status: &Value) -> Vec<String> {
    let Some(guests) = status.get("guests").and_then(Value::as_array) else {
        return Vec::new();
    };
    guests
        .iter()
        .map(|guest| {
            let id = guest.get("id").and_then(Value::as_str).unwrap_or("?");
            let state = guest.get("state").and_then(Value::as_str).unwrap_or("?");
            let restarts = guest.get("restarts").and_then(Value::as_u64).unwrap_or(0);
            let restarts = format!("{restarts} restart{}", if restarts == 1 { "" } else { "s" });
            match guest.get("pid").and_then(Value::as_u64) {
                Some(pid) => format!("{id} {state} (PID {pid}, {restarts})"),
                None => format!("{id} {state} ({restarts})"),
            }
        })
        .collect()
}

/// `3 h 2 min 5 s`, leaving out leading zero units.
fn format_duration(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    match (h, m) {
        (0, 0) => format!("{s} s"),
        (0, _) => format!("{m} min {s} s"),
        _ => format!("{h} h {m} min {s} s"),
    }
}

/// `1,234,567`: thousands set apart.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `512 B`, `1.5 KiB`, `56 KiB`, `3.2 GiB`: one decimal below 10 of a unit.
fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value < 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(5), "5 s");
        assert_eq!(format_duration(125), "2 min 5 s");
        assert_eq!(format_duration(3 * 3600 + 125), "3 h 2 min 5 s");
    }

    #[test]
    fn a_status_document_is_described() {
        let status = serde_json::json!({
            "running": true, "pid": 42, "version": "0.1.0", "uptime_s": 61,
            "cores": 2, "io": "io_uring",
            "transports": [{"id": "transport0", "type": "web", "endpoint": "127.0.0.1:8080"}],
            "sessions": 3, "sessions_per_core": [1, 2],
            "messages_in_per_s": 10.0, "events_out_per_s": 2000.0,
            "guests": [{"id": "backend", "pid": 43, "state": "running", "restarts": 1},
                       {"id": "worker002", "pid": null, "state": "restarting", "restarts": 2}],
            "cluster": {"node": "node-a", "connected": true, "peers": 2,
                        "messages_in": 1234, "bytes_in": 57_344,
                        "messages_out": 2_345_678, "bytes_out": 80_000, "not_sent": 0,
                        "unreadable": 0},
        });
        let text = describe(Path::new("node"), &status);
        assert!(
            text.starts_with("Node running from node (PID 42, up 1 min 1 s).\n"),
            "{text}"
        );
        assert!(text.contains("2 cores, io_uring"), "{text}");
        assert!(text.contains("transport0 web on 127.0.0.1:8080"), "{text}");
        assert!(
            text.contains("sessions: 3 (core 0: 1, core 1: 2)"),
            "{text}"
        );
        assert!(
            text.contains("messages in: 10/s, events out: 2000/s"),
            "{text}"
        );
        assert!(
            text.ends_with(
                "  cluster: node-a, connected to NATS, 2 other nodes; in 1,234 messages (56 KiB), out 2,345,678 (78 KiB), 0 not sent\n  guests: backend running (PID 43, 1 restart); worker002 restarting (2 restarts)\n"
            ),
            "{text}"
        );

        let mut unreachable = status.clone();
        unreachable["cluster"] = serde_json::json!({
            "node": "node-a", "connected": false, "peers": 0, "messages_in": 0,
            "bytes_in": 0, "messages_out": 7, "bytes_out": 1536, "not_sent": 3,
            "unreadable": 1,
        });
        let text = describe(Path::new("node"), &unreachable);
        assert!(
            text.contains(
                "  cluster: node-a, NATS unreachable; in 0 messages (0 B), out 7 (1.5 KiB), 3 not sent, 1 unreadable\n"
            ),
            "{text}"
        );

        // A node in no cluster: null (as its control socket says it), or
        // absent (an older node).
        let mut alone = status.clone();
        alone["cluster"] = Value::Null;
        let text = describe(Path::new("node"), &alone);
        assert!(!text.contains("cluster"), "{text}");
        alone.as_object_mut().unwrap().remove("cluster");
        let text = describe(Path::new("node"), &alone);
        assert!(!text.contains("cluster"), "{text}");
    }

    #[test]
    fn figures_read_naturally() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(57_344), "56 KiB");
        assert_eq!(format_bytes(3 << 30), "3.0 GiB");
    }
}
