//! `conns`: opens N idle joined sessions at a given rate, holds them, and
//! reports connect-to-WELCOME time percentiles and the router's resident
//! memory per session.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::conn::Conn;
use crate::meter::Meter;
use crate::pool;
use crate::proc_stat;
use crate::progress::Progress;
use crate::report::{Report, format_value};
use crate::run::{Errors, Run, error_notes, nonce};

/// Sessions one thread has connecting at once.
const CONNECTING_PER_THREAD: usize = 256;
/// Time for the router's memory to settle after the last session joined.
const SETTLE: Duration = Duration::from_secs(1);

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct Conns {
    /// Sessions to open.
    pub(crate) sessions: usize,
    /// Sessions opened per second over all load threads.
    pub(crate) connect_rate: f64,
}

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    opened: AtomicU64,
    failed: AtomicU64,
    connect_us: Vec<Mutex<Histogram<u64>>>,
    errors: Errors,
}

/// Runs the scenario: open, settle, measure, hold for the duration, close.
pub(crate) fn run(run: &Run, conns: &Conns, progress: &Progress) -> io::Result<Report> {
    let threads = run.load_cores.len();
    let shared = Arc::new(Shared {
        connect_us: crate::report::thread_histograms(threads)?,
        ..Shared::default()
    });
    let rss_before = router_rss_bytes(run);
    let meter = Meter::start(&run.router_pids, threads);
    let started = Instant::now();
    let workers = {
        let (run, conns, shared) = (run.clone(), conns.clone(), shared.clone());
        pool::spawn(&run.load_cores.clone(), move |w| {
            worker(w, threads, run.clone(), conns.clone(), shared.clone())
        })?
    };
    let total = conns.sessions as u64;
    let deadline = started
        + Duration::from_secs_f64(conns.sessions as f64 / conns.connect_rate.max(1e-3))
        + Duration::from_secs(60);
    let done = || shared.opened.load(Ordering::Acquire) + shared.failed.load(Ordering::Acquire);
    while done() < total && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        progress.update(format!(
            "sessions open {} of {} | failed {}",
            format_value(shared.opened.load(Ordering::Relaxed) as f64),
            format_value(total as f64),
            shared.failed.load(Ordering::Relaxed)
        ));
    }
    let open_seconds = started.elapsed().as_secs_f64();
    std::thread::sleep(SETTLE);
    let opened = shared.opened.load(Ordering::Acquire);
    let mut report = Report::new(format!(
        "conns: {} idle sessions at {} per second, {} at {}",
        conns.sessions,
        conns.connect_rate,
        run.target.serializer.name(),
        run.target.authority()
    ));
    report.push("sessions_opened", opened as f64, "");
    report.push(
        "sessions_failed",
        shared.failed.load(Ordering::Acquire) as f64,
        "",
    );
    report.push("sessions_per_s", opened as f64 / open_seconds, "1/s");
    let connect = crate::report::merged(&shared.connect_us)?;
    report.push_latency(&connect);
    for f in report
        .figures
        .iter_mut()
        .filter(|f| f.key.starts_with("latency_"))
    {
        f.key = f.key.replacen("latency_", "connect_", 1);
    }
    if let Some((before, after)) = rss_before.zip(router_rss_bytes(run)) {
        report.push(
            "router_rss_bytes_per_session",
            after.saturating_sub(before) as f64 / opened.max(1) as f64,
            "B",
        );
    }
    meter.finish(&mut report, opened, "session", open_seconds);
    std::thread::sleep(run.duration);
    let alive = proc_stat::trees(&run.router_pids).is_some();
    if !alive {
        report
            .notes
            .push("the router exited while holding the sessions".into());
    }
    report
        .notes
        .extend(error_notes(&Default::default(), &shared.errors.snapshot()));
    shared.stop.store(true, Ordering::Release);
    workers.join()?;
    Ok(report)
}

/// The router's resident memory, summed over its processes (`None`
/// without `--router-pid`, or when one is gone).
fn router_rss_bytes(run: &Run) -> Option<u64> {
    if run.router_pids.is_empty() {
        return None;
    }
    let usages = proc_stat::trees(&run.router_pids)?;
    Some(usages.iter().map(|u| u.rss_bytes).sum())
}

async fn worker(w: usize, n: usize, run: Run, conns: Conns, shared: Arc<Shared>) -> io::Result<()> {
    let mine: Vec<usize> = (w..conns.sessions).step_by(n).collect();
    let per_thread = conns.connect_rate / n as f64;
    let connecting = Arc::new(tokio::sync::Semaphore::new(CONNECTING_PER_THREAD));
    let started = Instant::now();
    for (k, index) in mine.into_iter().enumerate() {
        let due = Duration::from_secs_f64(k as f64 / per_thread.max(1e-3));
        tokio::time::sleep_until((started + due).into()).await;
        let permit = connecting
            .clone()
            .acquire_owned()
            .await
            .map_err(io::Error::other)?;
        let (run, shared) = (run.clone(), shared.clone());
        tokio::task::spawn_local(async move {
            let t0 = Instant::now();
            match Conn::join(&run.target, nonce(index)).await {
                Ok(mut conn) => {
                    let us = t0.elapsed().as_micros() as u64;
                    if let Some(Ok(mut h)) = shared.connect_us.get(w).map(|h| h.lock()) {
                        h.saturating_record(us.max(1));
                    }
                    shared.opened.fetch_add(1, Ordering::Release);
                    drop(permit);
                    let e = conn.hold().await;
                    shared.errors.add(format!("idle session: {e}"));
                }
                Err(e) => {
                    shared.errors.add(e.to_string());
                    shared.failed.fetch_add(1, Ordering::Release);
                }
            }
        });
    }
    while !shared.stop.load(Ordering::Acquire) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}
