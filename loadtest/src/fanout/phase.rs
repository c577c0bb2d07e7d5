//! One measurement at one rate: counters and histograms reset, the
//! publishers run for the duration, then pause while the last events
//! drain, and the differences become the report.

use std::io;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{Counter, Fanout, MAX_RATE, Shared};
use crate::conn::WIRE_BYTES_IN;
use crate::meter::Meter;
use crate::progress::Progress;
use crate::report::{Report, format_value};
use crate::run::{Run, error_notes};

/// How often the progress line and the throughput series are sampled.
const SAMPLE: Duration = Duration::from_millis(250);
/// The drain ends when nothing arrived for this long...
const DRAIN_QUIET: Duration = Duration::from_secs(1);
/// ...or after this long in any case.
const DRAIN_MAX: Duration = Duration::from_secs(10);

/// A phase's report and the figures the search judges it by.
pub(super) struct Phase {
    /// Everything the phase measured.
    pub(super) report: Report,
    /// Events expected and not received.
    pub(super) lost: u64,
    /// Events out of order.
    pub(super) out_of_order: u64,
    /// 99th percentile latency.
    pub(super) p99_us: u64,
    /// Publications sent per second of publishing.
    pub(super) publications_per_s: f64,
    /// Publications sent, and over how long.
    pub(super) published: u64,
    pub(super) publish_seconds: f64,
}

/// Runs one phase at `rate` publications/s ([`MAX_RATE`] for the maximum).
pub(super) fn measure(
    run: &Run,
    fanout: &Fanout,
    rate: u64,
    shared: &Shared,
    progress: &Progress,
) -> io::Result<Phase> {
    let published_before = counts(&shared.published);
    let received_before = counts(&shared.received);
    let wire_bytes_before = WIRE_BYTES_IN.load(Ordering::Relaxed);
    let ooo_before = shared.out_of_order.load(Ordering::Relaxed);
    let disconnected_before = shared.disconnected.load(Ordering::Relaxed);
    let errors_before = shared.errors.snapshot();
    let churn_before = shared.churn.snapshot();
    for histogram in &shared.latency {
        if let Ok(mut h) = histogram.lock() {
            h.reset();
        }
    }
    let meter = Meter::start(&run.router_pids, run.load_cores.len());
    let started = Instant::now();
    shared.timeline.restart(crate::stamp::now_ns());
    shared.set_rate(rate);
    let mut throughput = Vec::new();
    let mut last_sample = (0.0, shared.received_total());
    while started.elapsed() < run.duration {
        std::thread::sleep(SAMPLE);
        let t = started.elapsed().as_secs_f64();
        let received = shared.received_total();
        if t - last_sample.0 >= 1.0 - 1e-3 {
            throughput.push((t, (received - last_sample.1) as f64 / (t - last_sample.0)));
            last_sample = (t, received);
        }
        let delivered = received - received_before.iter().sum::<u64>();
        progress.update(format!(
            "{} pub/s offered | delivered {} ({}/s) | disconnected {} | errors {}",
            if rate == MAX_RATE {
                "max".to_owned()
            } else {
                format_value(rate as f64)
            },
            format_value(delivered as f64),
            format_value(delivered as f64 / t.max(1e-3)),
            shared.disconnected.load(Ordering::Relaxed) - disconnected_before,
            shared.errors.total(),
        ));
    }
    let publish_seconds = started.elapsed().as_secs_f64();
    shared.pause();
    let published = diff(&counts(&shared.published), &published_before);
    let expected: Vec<u64> = (0..fanout.subscribers)
        .map(|i| published.get(i % fanout.topics).copied().unwrap_or(0))
        .collect();
    let expected_total: u64 = expected.iter().sum();
    let last_arrival = drain(
        shared,
        received_before.iter().sum::<u64>() + expected_total,
        progress,
    );

    let received = diff(&counts(&shared.received), &received_before);
    let received_total: u64 = received.iter().sum();
    let lost_each: Vec<u64> = expected
        .iter()
        .zip(&received)
        .map(|(e, r)| e.saturating_sub(*r))
        .collect();
    let lost: u64 = lost_each.iter().sum();
    let out_of_order = shared.out_of_order.load(Ordering::Relaxed) - ooo_before;
    let latency = crate::report::merged(&shared.latency)?;
    let published_total: u64 = published.iter().sum();
    let mut report = Report::new(format!(
        "fanout: {} subscribers on {} topic(s), {} publisher(s), {} B payload, {} over {}, {}{}",
        fanout.subscribers,
        fanout.topics,
        fanout.publishers,
        fanout.payload_bytes,
        run.target.serializer.name(),
        transport_name(run),
        if rate == MAX_RATE {
            "max rate".to_owned()
        } else {
            format!("{rate} publications/s")
        },
        fanout.routers(run),
    ));
    if rate != MAX_RATE {
        report.push("offered_publications_per_s", rate as f64, "1/s");
    }
    let publications_per_s = published_total as f64 / publish_seconds;
    report.push("publications_per_s", publications_per_s, "1/s");
    // Over the time until the last event arrived: a router that queues
    // events delivers some of them after the publishers stopped.
    let delivery_seconds = (last_arrival - started).as_secs_f64().max(publish_seconds);
    report.push(
        "events_per_s",
        received_total as f64 / delivery_seconds,
        "1/s",
    );
    report.push("events_expected", expected_total as f64, "");
    report.push("events_received", received_total as f64, "");
    report.push(
        "delivery_ratio",
        received_total as f64 / expected_total.max(1) as f64,
        "",
    );
    report.push("lost", lost as f64, "");
    report.push(
        "subscribers_with_loss",
        lost_each.iter().filter(|&&l| l > 0).count() as f64,
        "",
    );
    report.push(
        "max_lost_per_subscriber",
        lost_each.iter().copied().max().unwrap_or(0) as f64,
        "",
    );
    report.push("out_of_order", out_of_order as f64, "");
    report.push(
        "disconnected",
        (shared.disconnected.load(Ordering::Relaxed) - disconnected_before) as f64,
        "",
    );
    report.push_latency(&latency);
    let wire_bytes = WIRE_BYTES_IN.load(Ordering::Relaxed) - wire_bytes_before;
    report.push(
        "wire_bytes_per_event",
        wire_bytes as f64 / received_total.max(1) as f64,
        "B",
    );
    meter.finish(&mut report, received_total, "event", delivery_seconds);
    if fanout.churn.is_some() {
        shared
            .churn
            .snapshot()
            .report_since(&churn_before, publish_seconds, &mut report);
    }
    report
        .notes
        .extend(error_notes(&errors_before, &shared.errors.snapshot()));
    report.throughput = throughput;
    report.throughput_label = "events/s delivered".into();
    report.latency_timeline = shared.timeline.points(last_arrival - started);
    report
        .notes
        .extend(super::timeline::transient_note(&report.latency_timeline));
    Ok(Phase {
        report,
        lost,
        out_of_order,
        p99_us: latency.value_at_percentile(99.0),
        publications_per_s,
        published: published_total,
        publish_seconds,
    })
}

fn transport_name(run: &Run) -> &'static str {
    match run.target.transport {
        crate::target::Transport::WebSocket => "WebSocket",
        crate::target::Transport::RawSocket => "RawSocket",
    }
}

/// The longest a phase of `run` can last: publishing, then draining.
pub(super) fn longest(run: &Run) -> Duration {
    run.duration + DRAIN_MAX + SAMPLE
}

/// Waits until `target` events have arrived in all, or arrivals stop;
/// returns when the last event arrived (to the sampling interval).
fn drain(shared: &Shared, target: u64, progress: &Progress) -> Instant {
    let started = Instant::now();
    let mut last = (shared.received_total(), Instant::now());
    while started.elapsed() < DRAIN_MAX {
        let received = shared.received_total();
        if received >= target {
            return Instant::now();
        }
        if received != last.0 {
            last = (received, Instant::now());
        } else if last.1.elapsed() >= DRAIN_QUIET {
            return last.1;
        }
        progress.update(format!(
            "draining: {} events still expected",
            format_value(target.saturating_sub(received) as f64)
        ));
        std::thread::sleep(Duration::from_millis(20));
    }
    last.1
}

fn counts(counters: &[Counter]) -> Vec<u64> {
    counters.iter().map(Counter::get).collect()
}

fn diff(after: &[u64], before: &[u64]) -> Vec<u64> {
    after.iter().zip(before).map(|(a, b)| a - b).collect()
}
