//! `--find-max`: the highest publication rate delivered with no loss, no
//! order violation, p99 latency under the bound and the publishers keeping
//! the rate. Doubles the rate until a probe fails, then bisects between the
//! last pass and the first failure.

use std::io;

use super::phase::{self, Phase};
use super::{Fanout, FindMax, Shared};
use crate::progress::Progress;
use crate::report::{Report, format_value};
use crate::run::Run;

/// A probe whose publishers sent less than this share of the offered rate
/// (less one publication, for low rates over short probes) did not offer
/// that rate.
const KEPT_RATE: f64 = 0.95;
/// The bisection stops when the bounds are this close.
const PRECISION: f64 = 1.05;

/// Runs the search; the report is the best passing probe's, with the search
/// in its notes.
pub(super) fn find_max(
    run: &Run,
    fanout: &Fanout,
    find: &FindMax,
    shared: &Shared,
    progress: &Progress,
) -> io::Result<Report> {
    let mut best: Option<(u64, Phase)> = None;
    let mut first_fail: Option<(u64, Phase)> = None;
    let mut probes = Vec::new();
    let mut rate = find.start_rate.max(1);
    while probes.len() < find.max_probes {
        let probe = phase::measure(run, fanout, rate, shared, progress)?;
        let verdict = judge(rate, &probe, find);
        progress.println(format!(
            "probe {}: {} publications/s -> {} events/s, lost {}, p99 {} us: {}",
            probes.len() + 1,
            format_value(rate as f64),
            format_value(probe.report.get("events_per_s").unwrap_or(0.0)),
            probe.lost,
            probe.p99_us,
            verdict.as_deref().unwrap_or("pass")
        ));
        probes.push(format!(
            "{} pub/s: {}",
            format_value(rate as f64),
            verdict.as_deref().unwrap_or("pass")
        ));
        let passed = verdict.is_none();
        if passed {
            best = Some((rate, probe));
        } else if first_fail.as_ref().is_none_or(|(r, _)| rate < *r) {
            first_fail = Some((rate, probe));
        }
        let low = best.as_ref().map(|(r, _)| *r);
        let high = first_fail.as_ref().map(|(r, _)| *r);
        rate = match (low, high) {
            (Some(low), None) => low.saturating_mul(2),
            (None, Some(high)) if high > 1 => high / 2,
            (Some(low), Some(high)) if high as f64 / low as f64 > PRECISION => {
                low + (high - low) / 2
            }
            _ => break,
        };
    }
    let (mut report, max_rate) = match (best, first_fail) {
        (Some((rate, phase)), _) => (phase.report, rate),
        (None, Some((_, phase))) => {
            let mut report = phase.report;
            report.notes.push("no probed rate passed".into());
            (report, 0)
        }
        (None, None) => return Err(io::Error::other("--find-max: no probe ran (--probes 0?)")),
    };
    report.title = format!("{} [find-max: best passing probe]", report.title);
    report.figures.insert(
        0,
        crate::report::Figure {
            key: "max_loss_free_publications_per_s".into(),
            value: max_rate as f64,
            unit: "1/s",
        },
    );
    report.notes.push(format!(
        "search (pass = no loss, no reordering, p99 <= {} us, rate kept): {}",
        find.max_p99_us,
        probes.join("; ")
    ));
    Ok(report)
}

/// Why a probe at `rate` failed, or `None` when it passed.
fn judge(rate: u64, probe: &Phase, find: &FindMax) -> Option<String> {
    if probe.lost > 0 {
        Some(format!("{} lost", probe.lost))
    } else if probe.out_of_order > 0 {
        Some(format!("{} out of order", probe.out_of_order))
    } else if probe.p99_us > find.max_p99_us {
        Some(format!("p99 {} us over the bound", probe.p99_us))
    } else if (probe.published as f64) < KEPT_RATE * rate as f64 * probe.publish_seconds - 1.0 {
        Some(format!(
            "publishers sent only {} pub/s",
            format_value(probe.publications_per_s)
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(lost: u64, out_of_order: u64, p99_us: u64, published: u64) -> Phase {
        Phase {
            report: Report::new("probe".into()),
            lost,
            out_of_order,
            p99_us,
            publications_per_s: published as f64,
            published,
            publish_seconds: 1.0,
        }
    }

    #[test]
    fn a_probe_passes_only_clean_fast_and_at_its_rate() {
        let find = FindMax {
            max_p99_us: 1000,
            start_rate: 10,
            max_probes: 5,
        };
        assert_eq!(judge(100, &probe(0, 0, 1000, 100), &find), None);
        assert_eq!(
            judge(10, &probe(0, 0, 10, 9), &find),
            None,
            "one short is fine"
        );
        assert!(
            judge(100, &probe(1, 0, 10, 100), &find)
                .unwrap()
                .contains("lost")
        );
        assert!(
            judge(100, &probe(0, 2, 10, 100), &find)
                .unwrap()
                .contains("out of order")
        );
        assert!(
            judge(100, &probe(0, 0, 1001, 100), &find)
                .unwrap()
                .contains("p99")
        );
        assert!(
            judge(100, &probe(0, 0, 10, 90), &find)
                .unwrap()
                .contains("sent only")
        );
    }
}
