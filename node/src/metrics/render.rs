//! The router's figures in the Prometheus text format, version 0.0.4: a
//! `# HELP` and a `# TYPE` line per metric, then one `name{labels} value`
//! line per series; per-core series carry `core="N"`.

use std::fmt::Write;

use ringbar_engine::figures::{CoreSnapshot, HistogramSnapshot};
use ringbar_router::core::cluster::ClusterSnapshot;

use crate::workers::BridgeFigures;

/// The media type of the text format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What the node tells about itself beside the cores' figures.
pub(crate) struct Node<'a> {
    /// ringbar's version.
    pub(crate) version: &'a str,
    /// The I/O backend the cores run on.
    pub(crate) io: &'a str,
    /// `flow.max_core_queued_bytes`.
    pub(crate) max_core_queued_bytes: usize,
    /// The cluster link, when the node is in a cluster.
    pub(crate) cluster: Option<Cluster<'a>>,
}

/// The node's cluster link: its name in the cluster and the link's figures.
pub(crate) struct Cluster<'a> {
    /// `ringbar.cluster.node`.
    pub(crate) node: &'a str,
    /// The link's figures now.
    pub(crate) figures: ClusterSnapshot,
}

/// The whole exposition: `node`, then every metric of `cores` (indexed by
/// core), then the cluster link's (when there is one), then those of the
/// bridge workers (labelled by worker id).
pub(crate) fn render(node: &Node<'_>, cores: &[CoreSnapshot], bridges: &[BridgeFigures]) -> String {
    let mut out = Exposition(String::with_capacity(16 * 1024));
    out.header(
        "ringbar_info",
        "gauge",
        "The running ringbar: its version and I/O backend (always 1).",
    );
    out.line(
        "ringbar_info",
        &format!("version=\"{}\",io=\"{}\"", node.version, node.io),
        1,
    );
    out.header(
        "ringbar_core_queued_bytes_limit",
        "gauge",
        "The most bytes one core's connections may hold queued together (flow.max_core_queued_bytes).",
    );
    out.line(
        "ringbar_core_queued_bytes_limit",
        "",
        node.max_core_queued_bytes,
    );
    out.per_core(
        cores,
        "ringbar_sessions",
        "gauge",
        "Joined WAMP sessions.",
        |c| c.sessions,
    );
    out.by_label(
        cores,
        "ringbar_messages_in_total",
        "WAMP messages received from peers, by message type.",
        "type",
        |c| c.messages_in.iter().map(|(t, n)| (t.name(), *n)).collect(),
    );
    out.per_core(
        cores,
        "ringbar_messages_undecodable_total",
        "counter",
        "Messages received that could not be decoded (the session was closed for it).",
        |c| c.messages_in_undecodable,
    );
    out.by_label(
        cores,
        "ringbar_messages_out_total",
        "WAMP messages queued for peers, by message type (EVENT included).",
        "type",
        |c| c.messages_out.iter().map(|(t, n)| (t.name(), *n)).collect(),
    );
    out.per_core(
        cores,
        "ringbar_bytes_in_total",
        "counter",
        "Bytes read from WAMP connections (WebSocket or RawSocket frames, after TLS; opening handshakes not counted).",
        |c| c.bytes_in,
    );
    out.per_core(
        cores,
        "ringbar_bytes_out_total",
        "counter",
        "Bytes written to WAMP connections (frames, before TLS).",
        |c| c.bytes_out,
    );
    out.by_label(
        cores,
        "ringbar_events_dropped_total",
        "Events not queued for a subscriber, by reason: session_queue_full (its queue held flow.max_queued_bytes), core_queue_budget (the core's queues held flow.max_core_queued_bytes and this one more than its share), too_large (longer than the subscriber accepts), closing (its connection was closing).",
        "reason",
        |c| {
            c.events_dropped
                .iter()
                .map(|(r, n)| (r.name(), *n))
                .collect()
        },
    );
    out.per_core(
        cores,
        "ringbar_slow_consumer_disconnects_total",
        "counter",
        "Connections closed by the disconnect slow-consumer policy (flow.slow_consumer).",
        |c| c.slow_consumer_disconnects,
    );
    out.per_core(
        cores,
        "ringbar_connections_refused_total",
        "counter",
        "Connections closed at accept because their transport held its max_connections.",
        |c| c.connections_refused,
    );
    out.per_core(
        cores,
        "ringbar_queued_bytes",
        "gauge",
        "Bytes queued on the core's connections, waiting to be written.",
        |c| c.queued_bytes,
    );
    out.header(
        "ringbar_publish_to_event_seconds",
        "histogram",
        "Seconds from a PUBLISH being decoded to its EVENTs being queued for the subscribers' connection writers on a core (one observation per publication and core with subscribers; the socket write itself is not included).",
    );
    for (core, snapshot) in cores.iter().enumerate() {
        out.histogram(
            "ringbar_publish_to_event_seconds",
            core,
            &snapshot.publish_to_event,
        );
    }
    if let Some(cluster) = &node.cluster {
        out.cluster(cluster);
    }
    if !bridges.is_empty() {
        out.bridges(bridges);
        out.srdp_bridges(bridges);
    }
    out.0
}

/// A bridge metric with one series per worker: name, type, help, value.
type BridgeMetric = (
    &'static str,
    &'static str,
    &'static str,
    fn(&BridgeFigures) -> u64,
);

/// `worker="ID"`, the id escaped as the text format asks.
fn worker_label(id: &str) -> String {
    label("worker", id)
}

/// `key="VALUE"`, the value escaped as the text format asks.
fn label(key: &str, value: &str) -> String {
    let escaped = value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    format!("{key}=\"{escaped}\"")
}

/// The text being built (writing to a `String` cannot fail).
struct Exposition(String);

impl Exposition {
    /// The cluster link's metrics; the node's name labels
    /// `ringbar_cluster_connected` only, like the version `ringbar_info`.
    fn cluster(&mut self, cluster: &Cluster<'_>) {
        let f = &cluster.figures;
        self.header(
            "ringbar_cluster_connected",
            "gauge",
            "Whether the cluster link is connected to NATS (1) or not (0); node is this node's name in the cluster (ringbar.cluster.node).",
        );
        self.line(
            "ringbar_cluster_connected",
            &label("node", cluster.node),
            u8::from(f.connected),
        );
        self.header(
            "ringbar_cluster_peers",
            "gauge",
            "Other nodes of the cluster heard from and not gone.",
        );
        self.line("ringbar_cluster_peers", "", f.peers);
        self.header(
            "ringbar_cluster_messages_total",
            "counter",
            "Messages the cluster link sent to NATS (out) and received from it (in).",
        );
        self.line(
            "ringbar_cluster_messages_total",
            "direction=\"in\"",
            f.messages_in,
        );
        self.line(
            "ringbar_cluster_messages_total",
            "direction=\"out\"",
            f.messages_out,
        );
        self.header(
            "ringbar_cluster_bytes_total",
            "counter",
            "Payload bytes of the messages the cluster link sent to NATS (out) and received from it (in).",
        );
        self.line(
            "ringbar_cluster_bytes_total",
            "direction=\"in\"",
            f.bytes_in,
        );
        self.line(
            "ringbar_cluster_bytes_total",
            "direction=\"out\"",
            f.bytes_out,
        );
        self.header(
            "ringbar_cluster_messages_not_sent_total",
            "counter",
            "Messages for other nodes dropped because NATS was unreachable (never queued).",
        );
        self.line("ringbar_cluster_messages_not_sent_total", "", f.not_sent);
        self.header(
            "ringbar_cluster_messages_unreadable_total",
            "counter",
            "Messages received from NATS that could not be read.",
        );
        self.line(
            "ringbar_cluster_messages_unreadable_total",
            "",
            f.unreadable,
        );
    }

    /// The bridge workers' metrics, one series per worker (and reason).
    fn bridges(&mut self, bridges: &[BridgeFigures]) {
        let gauges_and_counters: [BridgeMetric; 7] = [
            (
                "ringbar_bridge_components",
                "gauge",
                "Components the bridge worker runs.",
                |b| b.components as u64,
            ),
            (
                "ringbar_bridge_sessions_joined",
                "gauge",
                "Components whose WAMP session is joined now.",
                |b| b.figures.joined,
            ),
            (
                "ringbar_bridge_joins_total",
                "counter",
                "WAMP sessions joined since the worker started (a rise beyond the components is a reconnect).",
                |b| b.figures.joins,
            ),
            (
                "ringbar_bridge_events_total",
                "counter",
                "Events received by MessageForwarder components.",
                |b| b.figures.events,
            ),
            (
                "ringbar_bridge_events_forwarded_total",
                "counter",
                "Events delivered: taken by a MessageForwarder's HTTP service (with the expected status, when set), or by a PostgreSQL bridge's subscription function.",
                |b| b.figures.forwarded,
            ),
            (
                "ringbar_bridge_http_retries_total",
                "counter",
                "HTTP requests of events repeated after a failure.",
                |b| b.figures.retries,
            ),
            (
                "ringbar_bridge_published_total",
                "counter",
                "Events a PostgreSQL bridge published from its outbox, acknowledged by the router.",
                |b| b.figures.published,
            ),
        ];
        self.per_worker(&gauges_and_counters, bridges);
        self.header(
            "ringbar_bridge_events_queued",
            "gauge",
            "Events waiting in the MessageForwarder targets' queues, or for a PostgreSQL bridge's subscription functions.",
        );
        for bridge in bridges {
            self.line(
                "ringbar_bridge_events_queued",
                &worker_label(&bridge.id),
                bridge.figures.queued,
            );
        }
        self.header(
            "ringbar_bridge_calls_total",
            "counter",
            "Calls a bridge answered or made, by outcome: a RESTCallee's (result: the HTTP response; error: bad arguments, or no response), a PostgreSQL bridge's procedures' and the calls SQL queued (result, or error), an SRDP bridge's (result, or error).",
        );
        for bridge in bridges {
            let worker = worker_label(&bridge.id);
            self.line(
                "ringbar_bridge_calls_total",
                &format!("{worker},outcome=\"result\""),
                bridge.figures.calls,
            );
            self.line(
                "ringbar_bridge_calls_total",
                &format!("{worker},outcome=\"error\""),
                bridge.figures.call_errors,
            );
        }
        self.header(
            "ringbar_bridge_events_dropped_total",
            "counter",
            "Events a bridge did not deliver, by reason: queue_full (a MessageForwarder target's queue held extra.max_queued_events, or a PostgreSQL bridge's subscription queue held max_queued_events), failed (a MessageForwarder's every attempt failed; a PostgreSQL bridge's subscription function refused the event, or its outbox row could not be published: the router refused it, or it is not a valid publication).",
        );
        for bridge in bridges {
            let worker = worker_label(&bridge.id);
            self.line(
                "ringbar_bridge_events_dropped_total",
                &format!("{worker},reason=\"queue_full\""),
                bridge.figures.dropped_full,
            );
            self.line(
                "ringbar_bridge_events_dropped_total",
                &format!("{worker},reason=\"failed\""),
                bridge.figures.dropped_failed,
            );
        }
    }

    /// The SRDP bridge workers' figures (zero for other bridges).
    fn srdp_bridges(&mut self, bridges: &[BridgeFigures]) {
        let series: [BridgeMetric; 4] = [
            (
                "ringbar_bridge_srdp_links",
                "gauge",
                "SRDP adapters the bridge worker reaches now.",
                |b| b.figures.srdp_links,
            ),
            (
                "ringbar_bridge_srdp_bad_frames_total",
                "counter",
                "SRDP frames and stray bytes thrown away (bad CRC, garbage, a frame cut short).",
                |b| b.figures.srdp_bad_frames,
            ),
            (
                "ringbar_bridge_srdp_changes_total",
                "counter",
                "SRDP CHANGE events decoded for publication.",
                |b| b.figures.srdp_changes,
            ),
            (
                "ringbar_bridge_srdp_changes_dropped_total",
                "counter",
                "SRDP CHANGE events dropped because the router was slow or away.",
                |b| b.figures.srdp_changes_dropped,
            ),
        ];
        self.per_worker(&series, bridges);
    }

    /// Each of `series`, one line per bridge worker.
    fn per_worker(&mut self, series: &[BridgeMetric], bridges: &[BridgeFigures]) {
        for (name, kind, help, value) in series {
            self.header(name, kind, help);
            for bridge in bridges {
                self.line(name, &worker_label(&bridge.id), value(bridge));
            }
        }
    }

    fn header(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn line(&mut self, name: &str, labels: &str, value: impl std::fmt::Display) {
        if labels.is_empty() {
            let _ = writeln!(self.0, "{name} {value}");
        } else {
            let _ = writeln!(self.0, "{name}{{{labels}}} {value}");
        }
    }

    /// A metric with one series per core.
    fn per_core(
        &mut self,
        cores: &[CoreSnapshot],
        name: &str,
        kind: &str,
        help: &str,
        value: impl Fn(&CoreSnapshot) -> u64,
    ) {
        self.header(name, kind, help);
        for (core, snapshot) in cores.iter().enumerate() {
            self.line(name, &format!("core=\"{core}\""), value(snapshot));
        }
    }

    /// A counter with one series per core and value of `label`.
    fn by_label(
        &mut self,
        cores: &[CoreSnapshot],
        name: &str,
        help: &str,
        label: &str,
        values: impl Fn(&CoreSnapshot) -> Vec<(&'static str, u64)>,
    ) {
        self.header(name, "counter", help);
        for (core, snapshot) in cores.iter().enumerate() {
            for (value, count) in values(snapshot) {
                self.line(name, &format!("core=\"{core}\",{label}=\"{value}\""), count);
            }
        }
    }

    /// The `_bucket`, `_sum` and `_count` series of one core's histogram.
    fn histogram(&mut self, name: &str, core: usize, histogram: &HistogramSnapshot) {
        let bucket = format!("{name}_bucket");
        for (le, count) in &histogram.buckets {
            self.line(&bucket, &format!("core=\"{core}\",le=\"{le}\""), count);
        }
        self.line(
            &bucket,
            &format!("core=\"{core}\",le=\"+Inf\""),
            histogram.count,
        );
        let labels = format!("core=\"{core}\"");
        self.line(&format!("{name}_sum"), &labels, histogram.sum_seconds);
        self.line(&format!("{name}_count"), &labels, histogram.count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringbar_engine::figures::DropReason;
    use ringbar_protocol::message::MessageType;

    fn core(sessions: u64, publishes: u64) -> CoreSnapshot {
        CoreSnapshot {
            sessions,
            messages_in: vec![
                (MessageType::Hello, sessions),
                (MessageType::Publish, publishes),
            ],
            messages_out: vec![(MessageType::Event, 3 * publishes)],
            bytes_in: 100,
            bytes_out: 200,
            events_dropped: DropReason::ALL.iter().map(|r| (*r, 0)).collect(),
            queued_bytes: 42,
            publish_to_event: HistogramSnapshot {
                buckets: vec![(0.00001, 1), (0.0001, publishes)],
                count: publishes + 1,
                sum_seconds: 0.25,
            },
            ..CoreSnapshot::default()
        }
    }

    fn exposition() -> String {
        let node = Node {
            version: "0.1.0",
            io: "epoll",
            max_core_queued_bytes: 1 << 20,
            cluster: Some(Cluster {
                node: "node-a",
                figures: ClusterSnapshot {
                    connected: true,
                    peers: 2,
                    messages_out: 30,
                    bytes_out: 3000,
                    messages_in: 10,
                    bytes_in: 1000,
                    not_sent: 4,
                    unreadable: 1,
                },
            }),
        };
        let bridge = BridgeFigures {
            id: "rest\"bridge".into(),
            components: 2,
            figures: ringbar_bridges::FiguresSnapshot {
                joined: 2,
                calls: 7,
                dropped_full: 3,
                published: 11,
                ..Default::default()
            },
        };
        render(&node, &[core(2, 5), core(1, 0)], &[bridge])
    }

    #[test]
    fn series_carry_their_core_and_labels() {
        let text = exposition();
        for line in [
            "ringbar_info{version=\"0.1.0\",io=\"epoll\"} 1",
            "ringbar_core_queued_bytes_limit 1048576",
            "ringbar_sessions{core=\"0\"} 2",
            "ringbar_sessions{core=\"1\"} 1",
            "ringbar_messages_in_total{core=\"0\",type=\"PUBLISH\"} 5",
            "ringbar_messages_in_total{core=\"1\",type=\"HELLO\"} 1",
            "ringbar_messages_out_total{core=\"0\",type=\"EVENT\"} 15",
            "ringbar_bytes_in_total{core=\"1\"} 100",
            "ringbar_bytes_out_total{core=\"0\"} 200",
            "ringbar_events_dropped_total{core=\"0\",reason=\"session_queue_full\"} 0",
            "ringbar_events_dropped_total{core=\"1\",reason=\"closing\"} 0",
            "ringbar_slow_consumer_disconnects_total{core=\"0\"} 0",
            "ringbar_connections_refused_total{core=\"1\"} 0",
            "ringbar_queued_bytes{core=\"1\"} 42",
            "ringbar_bridge_sessions_joined{worker=\"rest\\\"bridge\"} 2",
            "ringbar_bridge_calls_total{worker=\"rest\\\"bridge\",outcome=\"result\"} 7",
            "ringbar_bridge_events_dropped_total{worker=\"rest\\\"bridge\",reason=\"queue_full\"} 3",
            "ringbar_bridge_published_total{worker=\"rest\\\"bridge\"} 11",
            "ringbar_publish_to_event_seconds_bucket{core=\"0\",le=\"0.00001\"} 1",
            "ringbar_publish_to_event_seconds_bucket{core=\"0\",le=\"0.0001\"} 5",
            "ringbar_publish_to_event_seconds_bucket{core=\"0\",le=\"+Inf\"} 6",
            "ringbar_publish_to_event_seconds_sum{core=\"0\"} 0.25",
            "ringbar_publish_to_event_seconds_count{core=\"1\"} 1",
            "ringbar_cluster_connected{node=\"node-a\"} 1",
            "ringbar_cluster_peers 2",
            "ringbar_cluster_messages_total{direction=\"in\"} 10",
            "ringbar_cluster_messages_total{direction=\"out\"} 30",
            "ringbar_cluster_bytes_total{direction=\"in\"} 1000",
            "ringbar_cluster_bytes_total{direction=\"out\"} 3000",
            "ringbar_cluster_messages_not_sent_total 4",
            "ringbar_cluster_messages_unreadable_total 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line:?} missing in:\n{text}"
            );
        }
    }

    #[test]
    fn a_node_in_no_cluster_has_no_cluster_metrics() {
        let node = Node {
            version: "0.1.0",
            io: "epoll",
            max_core_queued_bytes: 1 << 20,
            cluster: None,
        };
        let text = render(&node, &[core(1, 1)], &[]);
        assert!(text.contains("ringbar_sessions{core=\"0\"} 1"), "{text}");
        assert!(!text.contains("ringbar_cluster_"), "{text}");
    }

    #[test]
    fn a_disconnected_cluster_link_reads_0() {
        let node = Node {
            version: "0.1.0",
            io: "epoll",
            max_core_queued_bytes: 1 << 20,
            cluster: Some(Cluster {
                node: "node-b",
                figures: ClusterSnapshot::default(),
            }),
        };
        let text = render(&node, &[core(1, 1)], &[]);
        assert!(
            text.lines()
                .any(|l| l == "ringbar_cluster_connected{node=\"node-b\"} 0"),
            "{text}"
        );
    }

    #[test]
    fn every_metric_has_help_and_type_before_its_series() {
        let text = exposition();
        let mut typed: Vec<(String, String)> = Vec::new();
        let mut helped = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').unwrap();
                assert!(!help.is_empty());
                helped.push(name.to_owned());
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
                assert_eq!(helped.last().map(String::as_str), Some(name));
                typed.push((name.to_owned(), kind.to_owned()));
                continue;
            }
            let (series, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
            let name = series.split('{').next().unwrap();
            assert!(name.starts_with("ringbar_"), "{line}");
            let (family, kind) = typed.last().unwrap();
            match kind.as_str() {
                "histogram" => assert!(
                    ["_bucket", "_sum", "_count"]
                        .iter()
                        .any(|s| name == format!("{family}{s}")),
                    "{line}"
                ),
                "counter" => {
                    assert_eq!(name, family, "{line}");
                    assert!(name.ends_with("_total"), "{line}");
                }
                _ => assert_eq!(name, family, "{line}"),
            }
            let labels = &series[name.len()..];
            assert!(
                labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                "{line}"
            );
        }
        let mut names: Vec<&String> = typed.iter().map(|(n, _)| n).collect();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count, "each metric is described once");
    }
}
