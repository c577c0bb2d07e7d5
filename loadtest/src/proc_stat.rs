//! A process tree's CPU time and memory, read from `/proc`, to report the
//! router's cost (a router may run its work in child processes, as
//! Crossbar.io's router worker does) and the load generator's own. A router
//! may also be several processes (the nodes of a cluster and their NATS
//! server): [`trees`] reads each, counting a process only once.

use std::collections::{HashMap, HashSet};

/// CPU seconds and resident bytes at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Usage {
    /// User plus system CPU time.
    pub(crate) cpu_seconds: f64,
    /// Resident memory.
    pub(crate) rss_bytes: u64,
}

impl Usage {
    /// The sum of two usages.
    pub(crate) fn plus(self, other: Self) -> Self {
        Self {
            cpu_seconds: self.cpu_seconds + other.cpu_seconds,
            rss_bytes: self.rss_bytes + other.rss_bytes,
        }
    }
}

/// The usage of `pid` and all its descendants; `None` when `pid` is gone.
pub(crate) fn tree(pid: u32) -> Option<Usage> {
    trees(&[pid])?.first().copied()
}

/// The usage of each of `pids` with its descendants, in order; a process
/// below two of them counts for the first only, so the sum counts every
/// process once. `None` when one of `pids` is gone.
pub(crate) fn trees(pids: &[u32]) -> Option<Vec<Usage>> {
    let children = children();
    let mut counted = HashSet::new();
    pids.iter()
        .map(|&pid| {
            let mut total = process(pid)?;
            if !counted.insert(pid) {
                return Some(Usage::default());
            }
            for p in descendants(pid, &children) {
                if counted.insert(p)
                    && let Some(u) = process(p)
                {
                    total = total.plus(u);
                }
            }
            Some(total)
        })
        .collect()
}

/// The name of process `pid` (`/proc/PID/comm`), if it is running.
pub(crate) fn name(pid: u32) -> Option<String> {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(comm.trim_end().to_owned())
}

/// The processes below `pid`: its children, theirs, and so on.
fn descendants(pid: u32, children: &HashMap<u32, Vec<u32>>) -> Vec<u32> {
    let mut found = Vec::new();
    let mut stack = children.get(&pid).cloned().unwrap_or_default();
    while let Some(p) = stack.pop() {
        stack.extend(children.get(&p).cloned().unwrap_or_default());
        found.push(p);
    }
    found
}

/// Every process's children, by parent, from one pass over `/proc`.
fn children() -> HashMap<u32, Vec<u32>> {
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
    children
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
        assert!(descendants(std::process::id(), &children()).contains(&child.id()));
        assert!(tree(std::process::id()).unwrap().rss_bytes > 0);
        assert!(tree(child.id()).is_some());
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(tree(child.id()).is_none(), "a reaped process is gone");
        assert!(tree(u32::MAX).is_none());
    }

    #[test]
    fn several_trees_count_each_process_once() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let me = std::process::id();
        let both = trees(&[me, child.id()]).unwrap();
        assert_eq!(both.len(), 2);
        // The child is below this process: it counts there, not twice.
        assert_eq!(both[1].rss_bytes, 0);
        let alone = trees(&[child.id(), me]).unwrap();
        assert!(alone[0].rss_bytes > 0);
        assert_eq!(name(child.id()).as_deref(), Some("sleep"));
        assert!(trees(&[me, me]).unwrap()[1].rss_bytes == 0);
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(trees(&[me, child.id()]).is_none(), "one gone: no figures");
    }
}
