//! The largest latency in each 100 ms of a phase. A phase's percentiles
//! say that some events were late; the timeline says when. A router that
//! is slow for the first few hundred milliseconds (memory touched for the
//! first time, a cold cache) or stalls once in the middle looks, in the
//! percentiles, like one that is a little slow all the time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The length of one window.
const WINDOW: Duration = Duration::from_millis(100);

/// A window whose largest latency is this many times the median window's
/// is a transient worth a note.
const TRANSIENT_FACTOR: u64 = 3;

/// Below this, a peak is not worth a note however it compares.
const TRANSIENT_MIN_US: u64 = 10_000;

/// Per window of the current phase, the largest latency recorded.
pub(crate) struct Timeline {
    /// [`crate::stamp::now_ns`] when the phase started.
    start_ns: AtomicU64,
    /// Microseconds, one entry per window; later events are not recorded.
    max_us: Vec<AtomicU64>,
}

impl Timeline {
    /// Room for phases of up to `longest` (later windows are dropped).
    pub(crate) fn new(longest: Duration) -> Self {
        let windows = longest.as_millis().div_ceil(WINDOW.as_millis()).max(1);
        Self {
            start_ns: AtomicU64::new(0),
            max_us: (0..windows).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Starts a phase at `now_ns`: every window is empty again.
    pub(crate) fn restart(&self, now_ns: u64) {
        for window in &self.max_us {
            window.store(0, Ordering::Relaxed);
        }
        self.start_ns.store(now_ns, Ordering::Release);
    }

    /// Records `latency_us`, the largest of the events read at `now_ns`.
    pub(crate) fn record(&self, now_ns: u64, latency_us: u64) {
        let since = now_ns.saturating_sub(self.start_ns.load(Ordering::Acquire));
        let index = since / WINDOW.as_nanos() as u64;
        if let Some(window) = usize::try_from(index).ok().and_then(|i| self.max_us.get(i)) {
            window.fetch_max(latency_us, Ordering::Relaxed);
        }
    }

    /// The windows of the first `length` of the phase: (seconds from its
    /// start to the window's start, the window's largest latency in µs).
    pub(crate) fn points(&self, length: Duration) -> Vec<(f64, f64)> {
        let windows = length.as_millis().div_ceil(WINDOW.as_millis());
        self.max_us
            .iter()
            .take(usize::try_from(windows).unwrap_or(usize::MAX))
            .enumerate()
            .map(|(i, max)| {
                (
                    i as f64 * WINDOW.as_secs_f64(),
                    max.load(Ordering::Relaxed) as f64,
                )
            })
            .collect()
    }
}

/// A note naming the window whose largest latency stands out from the
/// median window's, if one does.
pub(crate) fn transient_note(points: &[(f64, f64)]) -> Option<String> {
    let mut maxima: Vec<u64> = points
        .iter()
        .map(|&(_, us)| us as u64)
        .filter(|&us| us > 0)
        .collect();
    if maxima.len() < 3 {
        return None;
    }
    maxima.sort_unstable();
    let median = maxima.get(maxima.len() / 2).copied().unwrap_or(0);
    let &(at, peak) = points.iter().max_by(|a, b| a.1.total_cmp(&b.1))?;
    let peak = peak as u64;
    (peak >= TRANSIENT_MIN_US && peak > TRANSIENT_FACTOR * median).then(|| {
        format!(
            "latency peaked at {:.1} ms in the 100 ms from {at:.1} s, {:.1}× the median 100 ms window's largest ({:.1} ms): a transient, which the percentiles include (latency_timeline in --json has every window)",
            peak as f64 / 1000.0,
            peak as f64 / median.max(1) as f64,
            median as f64 / 1000.0,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn each_window_keeps_its_largest_latency() {
        let timeline = Timeline::new(Duration::from_millis(500));
        timeline.restart(1_000 * MS);
        timeline.record(1_000 * MS + 10 * MS, 7);
        timeline.record(1_000 * MS + 90 * MS, 5);
        timeline.record(1_000 * MS + 250 * MS, 40);
        timeline.record(1_000 * MS + 900 * MS, 99);
        let points = timeline.points(Duration::from_millis(300));
        assert_eq!(points, vec![(0.0, 7.0), (0.1, 0.0), (0.2, 40.0)]);
        timeline.restart(2_000 * MS);
        assert!(
            timeline
                .points(Duration::from_millis(500))
                .iter()
                .all(|p| p.1 == 0.0)
        );
    }

    #[test]
    fn a_window_far_above_the_median_is_noted() {
        let mut points: Vec<(f64, f64)> =
            (0..20).map(|i| (f64::from(i) / 10.0, 20_000.0)).collect();
        assert_eq!(transient_note(&points), None);
        points[2].1 = 190_000.0;
        let note = transient_note(&points).unwrap();
        assert!(
            note.contains("190.0 ms") && note.contains("from 0.2 s"),
            "{note}"
        );
        assert!(
            note.contains("9.5×") && note.contains("(20.0 ms)"),
            "{note}"
        );
    }

    #[test]
    fn small_or_few_peaks_are_not_noted() {
        let quiet: Vec<(f64, f64)> = [500.0, 400.0, 4_000.0, 450.0]
            .iter()
            .enumerate()
            .map(|(i, &us)| (i as f64 / 10.0, us))
            .collect();
        assert_eq!(transient_note(&quiet), None);
        assert_eq!(transient_note(&[(0.0, 1.0), (0.1, 90_000.0)]), None);
    }
}
