//! What a run measured: named figures in order, notes, throughput over time
//! and the latency distribution; printed as a table, written as JSON, and
//! drawn by `plot`.

use std::io;
use std::path::Path;
use std::sync::Mutex;

use hdrhistogram::Histogram;
use serde_json::{Map, Value, json};

/// One measured figure.
#[derive(Debug, Clone)]
pub(crate) struct Figure {
    /// Stable snake_case name, the key in JSON and in `compare`.
    pub(crate) key: String,
    /// The measured value.
    pub(crate) value: f64,
    /// Its unit, as printed (`1/s`, `ns`, `us`, ...; empty for counts).
    pub(crate) unit: &'static str,
}

/// Everything one scenario run reports.
#[derive(Debug, Clone, Default)]
pub(crate) struct Report {
    /// The scenario and its settings, one line.
    pub(crate) title: String,
    /// The figures, in print order.
    pub(crate) figures: Vec<Figure>,
    /// Warnings a reader must see beside the figures.
    pub(crate) notes: Vec<String>,
    /// (seconds since start, rate per second) each second of the measurement.
    pub(crate) throughput: Vec<(f64, f64)>,
    /// What `throughput` counts, e.g. "events/s delivered".
    pub(crate) throughput_label: String,
    /// (percentile, microseconds) points of the latency distribution.
    pub(crate) latency_curve: Vec<(f64, f64)>,
    /// (seconds since start, largest latency in microseconds) per 100 ms,
    /// where the scenario keeps it (fan-out).
    pub(crate) latency_timeline: Vec<(f64, f64)>,
}

/// The percentiles every latency figure is reported at.
const PERCENTILES: [(&str, f64); 4] =
    [("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99_9", 99.9)];

impl Report {
    /// A report titled `title`.
    pub(crate) fn new(title: String) -> Self {
        Self {
            title,
            ..Self::default()
        }
    }

    /// Adds a figure.
    pub(crate) fn push(&mut self, key: &str, value: f64, unit: &'static str) {
        self.figures.push(Figure {
            key: key.to_owned(),
            value,
            unit,
        });
    }

    /// The value of figure `key`.
    pub(crate) fn get(&self, key: &str) -> Option<f64> {
        self.figures.iter().find(|f| f.key == key).map(|f| f.value)
    }

    /// Adds `latency_p50_us` ... `latency_max_us` and the curve for plotting,
    /// from a histogram in microseconds.
    pub(crate) fn push_latency(&mut self, histogram: &Histogram<u64>) {
        if histogram.is_empty() {
            return;
        }
        for (name, p) in PERCENTILES {
            self.push(
                &format!("latency_{name}_us"),
                histogram.value_at_percentile(p) as f64,
                "us",
            );
        }
        self.push("latency_max_us", histogram.max() as f64, "us");
        self.latency_curve = [
            0.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 100.0,
        ]
        .into_iter()
        .map(|p| (p, histogram.value_at_percentile(p) as f64))
        .collect();
    }

    /// The final table, for a terminal.
    pub(crate) fn print(&self) {
        println!("{}", self.title);
        for f in &self.figures {
            println!("  {:<32} {:>16} {}", f.key, format_value(f.value), f.unit);
        }
        for note in &self.notes {
            println!("  NOTE: {note}");
        }
    }

    /// Every figure, note and series, as JSON.
    pub(crate) fn to_json(&self) -> Value {
        let figures: Map<String, Value> = self
            .figures
            .iter()
            .map(|f| (f.key.clone(), json!({"value": f.value, "unit": f.unit})))
            .collect();
        json!({
            "title": self.title,
            "figures": figures,
            "notes": self.notes,
            "throughput": {"label": self.throughput_label, "points": self.throughput},
            "latency_percentiles_us": self.latency_curve,
            "latency_timeline": {"window_ms": 100, "max_us": self.latency_timeline},
        })
    }
}

/// The largest latency recorded, in microseconds (a minute); larger values
/// are recorded as this.
const MAX_LATENCY_US: u64 = 60_000_000;

/// A latency histogram in microseconds, 3 significant digits, of fixed
/// size: `saturating_record` never grows it.
pub(crate) fn latency_histogram() -> io::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).map_err(io::Error::other)
}

/// One latency histogram per load thread, each recorded by its thread.
pub(crate) fn thread_histograms(threads: usize) -> io::Result<Vec<Mutex<Histogram<u64>>>> {
    (0..threads)
        .map(|_| latency_histogram().map(Mutex::new))
        .collect()
}

/// The threads' histograms as one.
pub(crate) fn merged(histograms: &[Mutex<Histogram<u64>>]) -> io::Result<Histogram<u64>> {
    let mut all = latency_histogram()?;
    for histogram in histograms {
        if let Ok(h) = histogram.lock() {
            all.add(&*h).map_err(io::Error::other)?;
        }
    }
    Ok(all)
}

/// Writes `value` as pretty JSON to `path`.
pub(crate) fn write_json(path: &Path, value: &Value) -> io::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    std::fs::write(path, text + "\n")
        .map_err(|e| io::Error::other(format!("--json {}: {e}", path.display())))
}

/// A figure for people: thousands separated, few decimals.
pub(crate) fn format_value(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    if value.abs() >= 1000.0 || value.fract() == 0.0 {
        let digits = format!("{:.0}", value.abs());
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if value < 0.0 {
            out.insert(0, '-');
        }
        out
    } else if value.abs() >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_well() {
        assert_eq!(format_value(4_512_345.6), "4,512,346");
        assert_eq!(format_value(999.0), "999");
        assert_eq!(format_value(-1234.0), "-1,234");
        assert_eq!(format_value(0.999_999), "1.000");
        assert_eq!(format_value(0.25), "0.250");
        assert_eq!(format_value(42.25), "42.2");
    }

    #[test]
    fn latency_figures_come_from_the_histogram() {
        let mut h = latency_histogram().unwrap();
        for v in 1..=1000 {
            h.saturating_record(v);
        }
        h.saturating_record(u64::MAX);
        let mut r = Report::new("t".into());
        r.push_latency(&h);
        assert_eq!(r.get("latency_p50_us"), Some(501.0));
        assert_eq!(r.get("latency_p99_us"), Some(991.0));
        assert_eq!(r.get("latency_p99_9_us"), Some(1000.0));
        let max = r.get("latency_max_us").unwrap();
        assert!(
            (max - MAX_LATENCY_US as f64).abs() / (MAX_LATENCY_US as f64) < 1e-3,
            "{max}"
        );
        let json = r.to_json();
        assert_eq!(json["figures"]["latency_p90_us"]["value"], 901.0);
    }

    #[test]
    fn an_empty_histogram_adds_nothing() {
        let mut r = Report::new("t".into());
        r.push_latency(&latency_histogram().unwrap());
        assert!(r.figures.is_empty());
    }
}
