//! CPU and memory of the router and of the load generator over a
//! measurement, turned into the figures printed beside every throughput:
//! router CPU per delivered message, and who was saturated. The router may
//! be several processes (`--router-pid` given more than once: the nodes of
//! a cluster and their NATS server); its figures are then their sums, and
//! each process's share follows as `router1_…`, `router2_…`, in the order
//! given.

use crate::proc_stat::{self, Usage};
use crate::report::Report;

/// Above this share of its cores the load generator may be what limits a figure.
const SATURATED: f64 = 0.9;
const MIB: f64 = (1u64 << 20) as f64;

/// Usage at the start of a measurement.
pub(crate) struct Meter {
    router_pids: Vec<u32>,
    /// Each router process's usage, in the order of `router_pids`.
    router_start: Option<Vec<Usage>>,
    own_start: Usage,
    load_cores: usize,
}

impl Meter {
    /// Starts measuring; `router_pids` are the router's processes, if known.
    pub(crate) fn start(router_pids: &[u32], load_cores: usize) -> Self {
        Self {
            router_pids: router_pids.to_vec(),
            router_start: (!router_pids.is_empty())
                .then(|| proc_stat::trees(router_pids))
                .flatten(),
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
        if let Some(start) = &self.router_start {
            match proc_stat::trees(&self.router_pids) {
                Some(end) => self.push_router(report, start, &end, unit, per, seconds),
                None => report.notes.push(format!(
                    "a router process ({}) exited during the measurement: no router CPU figures",
                    self.pid_list()
                )),
            }
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

    /// The router's figures: summed over its processes, then (when there
    /// are several) each process's CPU per message and memory.
    fn push_router(
        &self,
        report: &mut Report,
        start: &[Usage],
        end: &[Usage],
        unit: &str,
        per: f64,
        seconds: f64,
    ) {
        let cpu: Vec<f64> = start
            .iter()
            .zip(end)
            .map(|(s, e)| e.cpu_seconds - s.cpu_seconds)
            .collect();
        let cpu_total: f64 = cpu.iter().sum();
        let rss_total = end
            .iter()
            .fold(Usage::default(), |a, &u| a.plus(u))
            .rss_bytes;
        report.push(
            &format!("router_cpu_ns_per_{unit}"),
            cpu_total * 1e9 / per,
            "ns",
        );
        report.push("router_cores_used", cpu_total / seconds, "cores");
        report.push("router_rss_mib", rss_total as f64 / MIB, "MiB");
        if self.router_pids.len() < 2 {
            return;
        }
        for (i, (cpu, usage)) in cpu.iter().zip(end).enumerate() {
            let n = i + 1;
            report.push(
                &format!("router{n}_cpu_ns_per_{unit}"),
                cpu * 1e9 / per,
                "ns",
            );
            report.push(
                &format!("router{n}_rss_mib"),
                usage.rss_bytes as f64 / MIB,
                "MiB",
            );
        }
        let shares = cpu
            .iter()
            .enumerate()
            .map(|(i, cpu)| {
                format!(
                    "router{} = {} {:.0}%",
                    i + 1,
                    self.describe(i),
                    100.0 * cpu / cpu_total.max(1e-9)
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        report.notes.push(format!(
            "router_* figures sum {} processes (each with its children), with their share of the CPU: {shares}",
            self.router_pids.len()
        ));
    }

    /// `pid 123 (ringbar)` for router process `i`.
    fn describe(&self, i: usize) -> String {
        let pid = self.router_pids.get(i).copied().unwrap_or_default();
        match proc_stat::name(pid) {
            Some(name) => format!("pid {pid} ({name})"),
            None => format!("pid {pid}"),
        }
    }

    fn pid_list(&self) -> String {
        let pids: Vec<String> = self.router_pids.iter().map(u32::to_string).collect();
        format!("pid {}", pids.join(", "))
    }
}
