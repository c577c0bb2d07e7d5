//! A process tree's CPU time and memory, read from `/proc`, to report the
//! router's cost (a router may run its work in child processes, as
//! Crossbar.io's router worker does) and the load generator's own.

use std::collections::HashMap;

/// CPU seconds and resident bytes at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Usage {
    /// User plus system CPU time.
    pub(crate) cpu_seconds: f64,
    /// Resident memory.
    pub(crate) rss_bytes: u64,
}

/// The usage of `pid` and all its descendants; `None` when `pid` is gone.
pub(crate) fn tree(pid: u32) -> Option<Usage> {
    let mut total = process(pid)?;
    for p in descendants(pid) {
        if let Some(u) = process(p) {
            total.cpu_seconds += u.cpu_seconds;
            total.rss_bytes += u.rss_bytes;
        }
    }
    Some(total)
}

/// The processes below `pid`: its children, theirs, and so on.
fn descendants(pid: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(p) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(ppid) = stat_fields(p).and_then(|f| f.get(1).and_then(|v| v.parse().ok())) {
                children.entry(ppid).or_default().push(p);
            }
        }
    }
    let mut found = Vec::new();
    let mut stack = children.get(&pid).cloned().unwrap_or_default();
    while let Some(p) = stack.pop() {
        stack.extend(children.get(&p).cloned().unwrap_or_default());
        found.push(p);
    }
    found
}

/// The usage of this process.
pub(crate) fn own() -> Usage {
    process(std::process::id()).unwrap_or_default()
}

fn process(pid: u32) -> Option<Usage> {
    let fields = stat_fields(pid)?;
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    // Fields after the command: state(0) ppid(1) ... utime(11) stime(12) ... rss pages(21).
    let cpu_seconds = (ticks(11)? + ticks(12)?) / CLOCK_TICKS_PER_SECOND;
    let rss_bytes = fields.get(21)?.parse::<u64>().ok()? * PAGE_BYTES;
    Some(Usage {
        cpu_seconds,
        rss_bytes,
    })
}

/// `/proc/PID/stat` split after the command name (which may hold spaces).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// Linux's USER_HZ, 100 on every mainstream architecture.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;
/// The page size of x86-64 and most arm64 kernels.
const PAGE_BYTES: u64 = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_and_its_children() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        assert!(own().rss_bytes > 1 << 20);
        assert!(own().cpu_seconds >= 0.0);
        assert!(descendants(std::process::id()).contains(&child.id()));
        assert!(tree(std::process::id()).unwrap().rss_bytes > 0);
        assert!(tree(child.id()).is_some());
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(tree(child.id()).is_none(), "a reaped process is gone");
        assert!(tree(u32::MAX).is_none());
    }
}
