//! `--plot DIR`: the run's charts as SVG, throughput over time and the
//! latency percentile distribution.

use std::io;
use std::path::Path;

use plotters::prelude::*;

use crate::report::Report;

/// The nines of the latency chart's right edge (p99.999); the maximum sits there.
const MAX_NINES: f64 = 5.0;

/// Writes `throughput.svg` and (when the run measured latency)
/// `latency.svg` into `dir`, named with `prefix`.
pub(crate) fn write(dir: &Path, prefix: &str, report: &Report) -> io::Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| io::Error::other(format!("--plot {}: {e}", dir.display())))?;
    if !report.throughput.is_empty() {
        let path = dir.join(format!("{prefix}throughput.svg"));
        let points = report.throughput.clone();
        line_chart(
            &path,
            &report.title,
            ("seconds", &report.throughput_label),
            &points,
        )?;
    }
    if !report.latency_curve.is_empty() {
        let path = dir.join(format!("{prefix}latency.svg"));
        let points: Vec<(f64, f64)> = report
            .latency_curve
            .iter()
            .map(|&(p, us)| (nines(p), us))
            .collect();
        line_chart(
            &path,
            &report.title,
            (
                "percentile in nines (1 = p90, 2 = p99, 3 = p99.9, 5 = max)",
                "latency, us",
            ),
            &points,
        )?;
    }
    Ok(())
}

/// Percentile `p` as its number of nines: 90 → 1, 99 → 2, 100 → the right edge.
fn nines(p: f64) -> f64 {
    if p >= 100.0 {
        MAX_NINES
    } else {
        (-(1.0 - p / 100.0).log10()).min(MAX_NINES)
    }
}

fn line_chart(
    path: &Path,
    title: &str,
    labels: (&str, &str),
    points: &[(f64, f64)],
) -> io::Result<()> {
    let draw = || -> Result<(), Box<dyn std::error::Error>> {
        let x_max = points.iter().map(|p| p.0).fold(0.0, f64::max).max(1.0);
        let y_max = points.iter().map(|p| p.1).fold(0.0, f64::max).max(1.0) * 1.1;
        let root = SVGBackend::new(path, (900, 500)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(90)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)?;
        chart
            .configure_mesh()
            .x_desc(labels.0)
            .y_desc(labels.1)
            .y_label_formatter(&|v| crate::report::format_value(*v))
            .draw()?;
        chart.draw_series(LineSeries::new(
            points.iter().copied(),
            BLUE.stroke_width(2),
        ))?;
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, BLUE.filled())))?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| io::Error::other(format!("--plot {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_map_to_nines() {
        assert!((nines(90.0) - 1.0).abs() < 1e-9);
        assert!((nines(99.9) - 3.0).abs() < 1e-9);
        assert_eq!(nines(100.0), MAX_NINES);
        assert_eq!(nines(0.0), 0.0);
    }

    #[test]
    fn writes_both_charts() {
        let dir = std::env::temp_dir().join(format!("loadtest-plot-{}", std::process::id()));
        let mut report = Report::new("fanout test".into());
        report.throughput = vec![(1.0, 1000.0), (2.0, 1500.0)];
        report.throughput_label = "events/s".into();
        report.latency_curve = vec![(50.0, 10.0), (99.0, 40.0), (100.0, 90.0)];
        write(&dir, "x-", &report).unwrap();
        let svg = std::fs::read_to_string(dir.join("x-throughput.svg")).unwrap();
        assert!(svg.contains("<svg") && svg.contains("fanout test"));
        assert!(dir.join("x-latency.svg").exists());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
