//! Thread-per-core for the load generator: one thread pinned to each
//! `--load-cores` CPU, each with its own single-threaded tokio runtime,
//! so a connection's work never moves between cores or takes a lock.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;

/// The worker threads of one run.
pub(crate) struct Workers<T> {
    handles: Vec<JoinHandle<io::Result<T>>>,
}

/// Starts one pinned thread per entry of `cores`; thread `i` runs the future
/// `task(i)` (it may spawn `!Send` tasks with `tokio::task::spawn_local`)
/// until it completes.
pub(crate) fn spawn<T, F, Fut>(cores: &[usize], task: F) -> io::Result<Workers<T>>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = io::Result<T>> + 'static,
{
    let task = Arc::new(task);
    let mut handles = Vec::with_capacity(cores.len());
    for (index, &core) in cores.iter().enumerate() {
        let task = Arc::clone(&task);
        let handle = std::thread::Builder::new()
            .name(format!("load-cpu{core}"))
            .spawn(move || {
                if !core_affinity::set_for_current(core_affinity::CoreId { id: core }) {
                    return Err(io::Error::other(format!(
                        "cannot pin a load thread to CPU {core} (--load-cores): is it online?"
                    )));
                }
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                tokio::task::LocalSet::new().block_on(&runtime, task(index))
            })?;
        handles.push(handle);
    }
    Ok(Workers { handles })
}

impl<T> Workers<T> {
    /// Waits for every thread; the first error wins.
    pub(crate) fn join(self) -> io::Result<Vec<T>> {
        let mut results = Vec::with_capacity(self.handles.len());
        for handle in self.handles {
            match handle.join() {
                Ok(result) => results.push(result?),
                Err(_) => return Err(io::Error::other("a load thread panicked")),
            }
        }
        Ok(results)
    }
}

/// Parses a CPU list: `1`, `0,2`, `0-3`.
pub(crate) fn parse_cpu_list(list: &str) -> Result<Vec<usize>, String> {
    let mut cpus = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || format!("'{list}' is not a CPU list like 1 or 0,2 or 0-3");
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) =
                    (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                if a > b || b - a > 4096 {
                    return Err(bad());
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(part.parse().map_err(|_| bad())?),
        }
    }
    if cpus.is_empty() {
        return Err(format!("'{list}' names no CPU"));
    }
    Ok(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("1").unwrap(), vec![1]);
        assert_eq!(parse_cpu_list("0,2-4").unwrap(), vec![0, 2, 3, 4]);
        assert!(parse_cpu_list("").is_err());
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("a").is_err());
    }

    #[test]
    fn every_thread_runs_its_task() {
        let workers = spawn(&[0, 0], |i| async move { Ok(i * 10) }).unwrap();
        assert_eq!(workers.join().unwrap(), vec![0, 10]);
    }
}
