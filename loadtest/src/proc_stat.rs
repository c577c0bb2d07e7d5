//! A process's CPU time and memory, read from `/proc`, to report the
//! router's cost beside what the load generator saw.

/// CPU time used so far by process `pid` (user + system), in seconds.
pub(crate) fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks_per_second())
}

/// Resident memory of process `pid`, in bytes.
pub(crate) fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// CPU time of this process, in seconds.
pub(crate) fn own_cpu_seconds() -> Option<f64> {
    cpu_seconds(std::process::id())
}

/// Linux's USER_HZ, 100 on every mainstream architecture.
fn clock_ticks_per_second() -> f64 {
    100.0
}
