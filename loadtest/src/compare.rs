//! `compare`: one scenario against two routers, each started with
//! `--spawn`, alternating A B A B so drift of a shared machine falls on
//! both; prints each figure's median with min–max and the ratio A/B.

use std::io;
use std::path::PathBuf;

use clap::{Args, Parser};
use serde_json::json;

use crate::cli::{Cli, Command, run_scenario};
use crate::report::{self, Report, format_value};

/// `compare`'s options.
#[derive(Debug, Clone, Args)]
pub(crate) struct CompareArgs {
    /// The shell command that starts router A.
    #[arg(long)]
    pub(crate) a: String,
    /// The shell command that starts router B.
    #[arg(long)]
    pub(crate) b: String,
    /// Router A's name in the table.
    #[arg(long, default_value = "A")]
    pub(crate) name_a: String,
    /// Router B's name in the table.
    #[arg(long, default_value = "B")]
    pub(crate) name_b: String,
    /// Runs of each router.
    #[arg(long, default_value_t = 3)]
    pub(crate) repeats: usize,
    /// Write every run's figures and the medians to this file as JSON.
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
    /// Write the table (Markdown) to this file as well.
    #[arg(long)]
    pub(crate) markdown: Option<PathBuf>,
    /// The scenario and its options, e.g. `fanout --subscribers 1000 --rate 1000`
    /// (its --router-cores and --load-cores apply to both routers).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub(crate) scenario: Vec<String>,
}

/// Runs the comparison and prints its table.
pub(crate) fn run(args: &CompareArgs) -> io::Result<()> {
    let argv = std::iter::once("loadtest".to_owned()).chain(args.scenario.iter().cloned());
    let parsed = Cli::try_parse_from(argv).map_err(|e| io::Error::other(e.to_string()))?;
    let mut runs: [Vec<Report>; 2] = [Vec::new(), Vec::new()];
    for repeat in 0..args.repeats.max(1) {
        for (side, (name, line)) in [(&args.name_a, &args.a), (&args.name_b, &args.b)]
            .into_iter()
            .enumerate()
        {
            let command = with_spawn(&parsed.command, line)?;
            eprintln!(
                "compare: run {} of {} against {name}",
                repeat + 1,
                args.repeats.max(1)
            );
            let report = run_scenario(&command)?;
            for note in &report.notes {
                eprintln!("  NOTE ({name}): {note}");
            }
            runs[side].push(report);
        }
    }
    let [a_runs, b_runs] = runs;
    let title = a_runs.first().map(|r| r.title.clone()).unwrap_or_default();
    let rows = table_rows(&a_runs, &b_runs);
    let markdown = markdown(
        &title,
        &args.name_a,
        &args.name_b,
        args.repeats.max(1),
        &rows,
    );
    print!("{markdown}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, &markdown)
            .map_err(|e| io::Error::other(format!("--markdown {}: {e}", path.display())))?;
    }
    if let Some(path) = &args.json {
        let medians: serde_json::Map<_, _> = rows
            .iter()
            .map(|r| {
                (
                    r.key.clone(),
                    json!({"a": r.a.median, "b": r.b.median, "a_over_b": r.ratio()}),
                )
            })
            .collect();
        let value = json!({
            "scenario": args.scenario,
            "a": {"name": args.name_a, "command": args.a, "runs": a_runs.iter().map(Report::to_json).collect::<Vec<_>>()},
            "b": {"name": args.name_b, "command": args.b, "runs": b_runs.iter().map(Report::to_json).collect::<Vec<_>>()},
            "medians": medians,
        });
        report::write_json(path, &value)?;
    }
    Ok(())
}

/// The scenario with `--spawn LINE` (and no outputs of its own).
fn with_spawn(command: &Command, line: &str) -> io::Result<Command> {
    let mut command = command.clone();
    match &mut command {
        Command::Fanout { common, .. }
        | Command::Churn { common, .. }
        | Command::Rpc { common, .. }
        | Command::Conns { common, .. }
        | Command::Http { common, .. } => {
            common.spawn = Some(line.to_owned());
            common.router_pid.clear();
            common.json = None;
            common.plot = None;
        }
        Command::Compare(_) | Command::ReferenceServer(_) => {
            return Err(io::Error::other(
                "compare runs a scenario (fanout, churn, rpc, conns, http)",
            ));
        }
    }
    Ok(command)
}

/// Median, minimum and maximum of one figure over the runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Spread {
    /// The middle value (mean of the two middle ones for an even count).
    pub(crate) median: f64,
    /// The smallest value.
    pub(crate) min: f64,
    /// The largest value.
    pub(crate) max: f64,
}

impl Spread {
    /// The spread of `values` (`None` when empty).
    pub(crate) fn of(values: &[f64]) -> Option<Self> {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = match n {
            0 => return None,
            _ if n % 2 == 1 => sorted[n / 2],
            _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        };
        Some(Self {
            median,
            min: sorted[0],
            max: sorted[n - 1],
        })
    }
}

/// One figure of the comparison table.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// The figure's key.
    pub(crate) key: String,
    /// Its unit.
    pub(crate) unit: &'static str,
    /// Router A's values.
    pub(crate) a: Spread,
    /// Router B's values.
    pub(crate) b: Spread,
}

impl Row {
    /// Median A over median B (`None` when B's is 0).
    pub(crate) fn ratio(&self) -> Option<f64> {
        (self.b.median != 0.0).then(|| self.a.median / self.b.median)
    }
}

/// A row for every figure both sides reported, in A's order.
pub(crate) fn table_rows(a: &[Report], b: &[Report]) -> Vec<Row> {
    let Some(first) = a.first() else {
        return Vec::new();
    };
    let values = |runs: &[Report], key: &str| -> Vec<f64> {
        runs.iter().filter_map(|r| r.get(key)).collect()
    };
    first
        .figures
        .iter()
        .filter_map(|f| {
            Some(Row {
                key: f.key.clone(),
                unit: f.unit,
                a: Spread::of(&values(a, &f.key))?,
                b: Spread::of(&values(b, &f.key))?,
            })
        })
        .collect()
}

/// The table in Markdown.
pub(crate) fn markdown(
    title: &str,
    name_a: &str,
    name_b: &str,
    repeats: usize,
    rows: &[Row],
) -> String {
    let spread = |s: &Spread| {
        format!(
            "{} ({}–{})",
            format_value(s.median),
            format_value(s.min),
            format_value(s.max)
        )
    };
    let mut out = format!(
        "\n{title}\n\nMedian (min–max) of {repeats} run(s) each, alternating {name_a} and {name_b}.\n\n\
         | figure | unit | {name_a} | {name_b} | {name_a}/{name_b} |\n|---|---|---|---|---|\n"
    );
    for row in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            row.key,
            row.unit,
            spread(&row.a),
            spread(&row.b),
            row.ratio().map_or("–".to_owned(), |r| format!("{r:.2}"))
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_takes_the_middle() {
        let s = Spread::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(Spread::of(&[4.0, 1.0, 2.0, 3.0]).unwrap().median, 2.5);
        assert!(Spread::of(&[]).is_none());
        assert_eq!(Spread::of(&[f64::NAN, 5.0]).unwrap().median, 5.0);
    }

    #[test]
    fn rows_pair_figures_and_divide_medians() {
        let report = |v: f64| {
            let mut r = Report::new("t".into());
            r.push("events_per_s", v, "1/s");
            r
        };
        let rows = table_rows(
            &[report(10.0), report(30.0), report(20.0)],
            &[report(2.0), report(2.0)],
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].ratio(), Some(10.0));
        let md = markdown("t", "ringbar", "crossbar", 3, &rows);
        assert!(
            md.contains("| events_per_s | 1/s | 20 (10–30) | 2 (2–2) | 10.00 |"),
            "{md}"
        );
        let zero = table_rows(&[report(1.0)], &[report(0.0)]);
        assert!(zero[0].ratio().is_none());
    }
}
