//! CPU and memory of the router and of the load generator over a
//! measurement, turned into the figures printed beside every throughput:
//! router CPU per delivered message, and who was saturated.

use crate::proc_stat::{self, Usage};
use crate::report::Report;

/// Above this share of its cores the load generator may be what limits a figure.
const SATURATED: f64 = 0.9;

/// Usage at the start of a measurement.
pub(crate) struct Meter {
    router_pid: Option<u32>,
    router_start: Option<Usage>,
    own_start: Usage,
    load_cores: usize,
}

impl Meter {
    /// Starts measuring; `router_pid` is the router's process, if known.
    pub(crate) fn start(router_pid: Option<u32>, load_cores: usize) -> Self {
        Self {
            router_pid,
            router_start: router_pid.and_then(proc_stat::tree),
            own_start: proc_stat::own(),
            load_cores,
        }
    }

    /// Adds the CPU and memory figures for `delivered` messages of kind
    /// `unit` ("event", "call") to `report`; cores used are CPU time over
    /// `seconds`, the time the work took (not the idle wait after it).
    pub(crate) fn finish(&self, report: &mut Report, delivered: u64, unit: &str, seconds: f64) {
        let seconds = seconds.max(1e-9);
        let per = delivered.max(1) as f64;
        if let Some((start, end)) = self
            .router_start
            .zip(self.router_pid.and_then(proc_stat::tree))
        {
            let cpu = end.cpu_seconds - start.cpu_seconds;
            report.push(&format!("router_cpu_ns_per_{unit}"), cpu * 1e9 / per, "ns");
            report.push("router_cores_used", cpu / seconds, "cores");
            report.push(
                "router_rss_mib",
                end.rss_bytes as f64 / f64::from(1 << 20),
                "MiB",
            );
        }
        let own = proc_stat::own().cpu_seconds - self.own_start.cpu_seconds;
        let used = own / seconds;
        report.push(&format!("load_cpu_ns_per_{unit}"), own * 1e9 / per, "ns");
        report.push("load_cores_used", used, "cores");
        if used > SATURATED * self.load_cores as f64 {
            report.notes.push(format!(
                "the load generator used {:.0}% of its {} core(s): it may be what limits these figures, \
                 not the router (give it more --load-cores)",
                100.0 * used / self.load_cores as f64,
                self.load_cores
            ));
        }
    }
}
