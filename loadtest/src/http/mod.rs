//! `http`: POSTs of one JSON body to a REST bridge path (`publisher`,
//! `caller`, `webhook`) over N kept-alive connections with P requests in
//! flight each, optionally signed; reports requests/s, latency, statuses,
//! and the router's CPU per request. A connection the server closes (its
//! per-connection request limit) is opened again. With a callee
//! (`--callee-url`), the load generator also serves the procedure a
//! `caller` path calls, so the router, not a slow callee, bounds the calls.

mod request;
mod response;

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub(crate) use request::{HttpUrl, Signing};

use crate::meter::Meter;
use crate::pool;
use crate::progress::Progress;
use crate::report::{Report, format_value};
use crate::rpc;
use crate::run::{Errors, error_notes, nonce};
use crate::stamp;
use crate::target::Target;

use request::RequestWriter;

/// Bytes read at a time per connection.
const READ_BYTES: usize = 64 * 1024;
/// The first bytes of a refused response's body kept as its error cause.
const CAUSE_BYTES: usize = 160;

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    /// Where to POST.
    pub(crate) url: HttpUrl,
    /// The request body.
    pub(crate) body: Vec<u8>,
    /// Sign every request with this key and secret.
    pub(crate) signing: Option<Signing>,
    /// Kept-alive connections in all.
    pub(crate) connections: usize,
    /// Requests in flight per connection (1: no pipelining).
    pub(crate) pipeline: usize,
    /// An echo callee to serve while the requests run.
    pub(crate) callee: Option<Callee>,
}

/// A procedure the load generator serves (echoes) as a WAMP callee.
#[derive(Debug, Clone)]
pub(crate) struct Callee {
    /// Where the callee joins.
    pub(crate) target: Target,
    /// The procedure it registers.
    pub(crate) procedure: String,
}

/// Where and how long to run, and whose CPU to count.
#[derive(Debug, Clone)]
pub(crate) struct HttpRun {
    /// CPUs of the load threads, one thread each.
    pub(crate) load_cores: Vec<usize>,
    /// The router's process, for its CPU time and memory.
    pub(crate) router_pids: Vec<u32>,
    /// How long the measurement runs.
    pub(crate) duration: Duration,
}

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    /// The callee, if any, has registered: requests may start.
    callee_registered: AtomicBool,
    /// Latencies are recorded while this is set.
    measuring: AtomicBool,
    requests: AtomicU64,
    succeeded: AtomicU64,
    refused: AtomicU64,
    reconnects: AtomicU64,
    latency: Vec<Mutex<Histogram<u64>>>,
    errors: Errors,
}

/// Runs the scenario.
pub(crate) fn run(run: &HttpRun, http: &Http, progress: &Progress) -> io::Result<Report> {
    if http.connections == 0 || http.pipeline == 0 {
        return Err(io::Error::other(
            "--connections and --pipeline must each be at least 1",
        ));
    }
    let threads = run.load_cores.len();
    let shared = Arc::new(Shared {
        latency: crate::report::thread_histograms(threads)?,
        ..Shared::default()
    });
    let started_us = request::now_us();
    let workers = {
        let (http, shared) = (http.clone(), shared.clone());
        pool::spawn(&run.load_cores, move |w| {
            worker(w, threads, http.clone(), shared.clone(), started_us)
        })?
    };
    let outcome = measure(run, http, &shared, progress);
    shared.stop.store(true, Ordering::Release);
    let joined = workers.join();
    let report = outcome?;
    joined?;
    Ok(report)
}

fn measure(run: &HttpRun, http: &Http, shared: &Shared, progress: &Progress) -> io::Result<Report> {
    // A second of warm-up: connections open, the router's caches fill.
    let warm_up = Instant::now();
    while warm_up.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(50));
        if shared.requests.load(Ordering::Acquire) == 0 && !shared.errors.snapshot().is_empty() {
            let errors = shared.errors.snapshot();
            return Err(io::Error::other(format!(
                "no request was answered: {}",
                error_notes(&Default::default(), &errors).join("; ")
            )));
        }
    }
    let errors_before = shared.errors.snapshot();
    let count = |c: &AtomicU64| c.load(Ordering::Acquire);
    let before = [
        &shared.requests,
        &shared.succeeded,
        &shared.refused,
        &shared.reconnects,
    ]
    .map(count);
    let meter = Meter::start(&run.router_pids, run.load_cores.len());
    let started = Instant::now();
    shared.measuring.store(true, Ordering::Release);
    let mut throughput = Vec::new();
    let mut last = (0.0, before[0]);
    while started.elapsed() < run.duration {
        std::thread::sleep(Duration::from_millis(250));
        let t = started.elapsed().as_secs_f64();
        let answered = count(&shared.requests);
        if t - last.0 >= 1.0 - 1e-3 {
            throughput.push((t, (answered - last.1) as f64 / (t - last.0)));
            last = (t, answered);
        }
        progress.update(format!(
            "responses {} ({}/s) | refused {}",
            format_value((answered - before[0]) as f64),
            format_value((answered - before[0]) as f64 / t.max(1e-3)),
            count(&shared.refused) - before[2]
        ));
    }
    shared.measuring.store(false, Ordering::Release);
    let seconds = started.elapsed().as_secs_f64();
    let after = [
        &shared.requests,
        &shared.succeeded,
        &shared.refused,
        &shared.reconnects,
    ]
    .map(count);
    let [answered, succeeded, refused, reconnects] =
        [0, 1, 2, 3].map(|i| after[i].saturating_sub(before[i]));
    let latency = crate::report::merged(&shared.latency)?;
    let mut report = Report::new(format!(
        "http: POST {} B to {}{}, {} connection(s) x {} in flight, {}",
        http.body.len(),
        http.url.authority,
        http.url.path,
        http.connections,
        http.pipeline,
        if http.signing.is_some() {
            "signed"
        } else {
            "unsigned"
        }
    ));
    report.push("requests_per_s", answered as f64 / seconds, "1/s");
    report.push("responses", answered as f64, "");
    report.push("succeeded", succeeded as f64, "");
    report.push("refused", refused as f64, "");
    report.push("reconnects", reconnects as f64, "");
    report.push_latency(&latency);
    meter.finish(&mut report, answered, "request", seconds);
    if let Some(ns) = report
        .get("router_cpu_ns_per_request")
        .filter(|ns| *ns > 0.0)
    {
        report.push("requests_per_router_cpu_s", 1e9 / ns, "1/s");
    }
    report
        .notes
        .extend(error_notes(&errors_before, &shared.errors.snapshot()));
    report.throughput = throughput;
    report.throughput_label = "responses/s".into();
    Ok(report)
}

async fn worker(
    w: usize,
    n: usize,
    http: Http,
    shared: Arc<Shared>,
    started_us: u128,
) -> io::Result<()> {
    if let Some(callee) = http.callee.clone().filter(|_| w == 0) {
        let shared = shared.clone();
        tokio::task::spawn_local(async move {
            let registered = || shared.callee_registered.store(true, Ordering::Release);
            let served = rpc::echo_callee(
                &callee.target,
                nonce(3_000_000),
                &callee.procedure,
                false,
                &shared.errors,
                registered,
            )
            .await;
            if let Err(e) = served {
                shared.errors.add(format!("the callee: {e}"));
            }
        });
    }
    while http.callee.is_some() && !shared.callee_registered.load(Ordering::Acquire) {
        if shared.stop.load(Ordering::Acquire) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for index in (w..http.connections).step_by(n) {
        let (http, shared) = (http.clone(), shared.clone());
        tokio::task::spawn_local(async move {
            let mut writer = RequestWriter::new(
                &http.url,
                &http.body,
                http.signing.clone(),
                index,
                started_us,
            );
            while !shared.stop.load(Ordering::Acquire) {
                if let Err(e) = connection(w, &http, &mut writer, &shared).await {
                    shared.errors.add(e.to_string());
                    // A refused connection is not retried in a busy loop.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                shared.reconnects.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    while !shared.stop.load(Ordering::Acquire) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Sends requests on one connection, `pipeline` in flight, until the
/// server closes it or the run stops.
async fn connection(
    worker: usize,
    http: &Http,
    writer: &mut RequestWriter,
    shared: &Shared,
) -> io::Result<()> {
    let mut stream = TcpStream::connect(&http.url.authority).await?;
    stream.set_nodelay(true)?;
    let mut sent_ns = std::collections::VecDeque::with_capacity(http.pipeline);
    let mut out = Vec::new();
    let mut buf: Vec<u8> = Vec::with_capacity(READ_BYTES);
    let mut latencies_us = Vec::new();
    loop {
        if !shared.stop.load(Ordering::Acquire) {
            let now_ns = stamp::now_ns();
            while sent_ns.len() < http.pipeline {
                writer.write(&mut out);
                sent_ns.push_back(now_ns);
            }
            if !out.is_empty() {
                stream.write_all(&out).await?;
                out.clear();
            }
        } else if sent_ns.is_empty() {
            return Ok(());
        }
        let start = buf.len();
        buf.resize(start + READ_BYTES, 0);
        let n = stream.read(&mut buf[start..]).await?;
        buf.truncate(start + n);
        if n == 0 {
            return Ok(());
        }
        let now_ns = stamp::now_ns();
        let mut used = 0;
        let mut closed = false;
        let (mut answered, mut succeeded) = (0, 0);
        while let Some(response) = response::parse(&buf[used..]).map_err(io::Error::other)? {
            used += response.len;
            answered += 1;
            if response.succeeded() {
                succeeded += 1;
            } else {
                let cause = &response.body[..response.body.len().min(CAUSE_BYTES)];
                shared.errors.add(format!(
                    "{} {}",
                    response.status,
                    String::from_utf8_lossy(cause).trim_end()
                ));
            }
            if let Some(sent) = sent_ns.pop_front() {
                latencies_us.push(now_ns.saturating_sub(sent) / 1000);
            }
            if response.close {
                closed = true;
                break;
            }
        }
        buf.drain(..used);
        shared.requests.fetch_add(answered, Ordering::Relaxed);
        shared.succeeded.fetch_add(succeeded, Ordering::Relaxed);
        shared
            .refused
            .fetch_add(answered - succeeded, Ordering::Relaxed);
        if shared.measuring.load(Ordering::Relaxed)
            && let Some(Ok(mut h)) = shared.latency.get(worker).map(|h| h.lock())
        {
            for &us in &latencies_us {
                h.saturating_record(us.max(1));
            }
        }
        latencies_us.clear();
        if closed {
            return Ok(());
        }
    }
}
