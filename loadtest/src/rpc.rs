//! `rpc`: C callees (one shared registration when C > 1), or another
//! client's procedure (`--procedure`), N callers with W
//! calls in flight each, a payload size; reports calls/s, latency
//! percentiles, errors by URI, and checks that every call was answered.
//! The callees may join other routers than the callers (`--callee-urls`,
//! e.g. another node of a cluster); every caller's probe call must succeed
//! before the measurement starts.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use ringbar_protocol::codec;
use ringbar_protocol::message::{Call, Message, Yield};
use ringbar_protocol::value::Dict;

use crate::conn::{Conn, unexpected};
use crate::fanout::describe;
use crate::meter::Meter;
use crate::pool;
use crate::progress::Progress;
use crate::report::{Report, format_value};
use crate::run::{Errors, Run, error_notes, nonce};
use crate::sniff;
use crate::stamp::{self, Stamp};
use crate::target::Target;
use crate::wamp;

/// The procedure every callee registers.
const PROCEDURE: &str = "com.ringbar.loadtest.echo";
/// WAMP message type codes read on the fast path.
const RESULT: u64 = 50;
const ERROR: u64 = 8;
const INVOCATION: u64 = 68;
/// How long answers to the calls in flight may take after the measurement.
const DRAIN_MAX: Duration = Duration::from_secs(10);
/// How long a caller's probe call may keep failing with
/// [`NO_SUCH_PROCEDURE`] once the callees are registered: a registration
/// reaches the other nodes of a cluster a little after its REGISTERED.
const PROBE_MAX: Duration = Duration::from_secs(10);
/// The pause before calling again after [`NO_SUCH_PROCEDURE`].
const PROBE_RETRY: Duration = Duration::from_millis(50);
/// The error of a call no callee serves (yet).
const NO_SUCH_PROCEDURE: &str = "wamp.error.no_such_procedure";

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct Rpc {
    /// Sessions that register the echo procedure.
    pub(crate) callees: usize,
    /// Sessions that call it.
    pub(crate) callers: usize,
    /// Calls in flight per caller.
    pub(crate) window: usize,
    /// Length of each call's one string argument (echoed by the callee).
    pub(crate) payload_bytes: usize,
    /// The procedure of another client to call; `None`: the loadtest's
    /// own callees serve [`PROCEDURE`].
    pub(crate) procedure: Option<String>,
    /// Where the callees join, round-robin (`--callee-urls`); empty: the
    /// run's target, like the callers.
    pub(crate) callee_targets: Vec<Target>,
}

impl Rpc {
    /// The procedure the callers call.
    fn procedure(&self) -> &str {
        self.procedure.as_deref().unwrap_or(PROCEDURE)
    }

    /// The loadtest's own callees: none when another client serves.
    fn own_callees(&self) -> usize {
        match self.procedure {
            Some(_) => 0,
            None => self.callees,
        }
    }

    /// The router callee `index` joins.
    fn callee_target<'a>(&'a self, index: usize, run: &'a Run) -> &'a Target {
        let n = self.callee_targets.len().max(1);
        self.callee_targets.get(index % n).unwrap_or(&run.target)
    }

    /// Where the sessions join, for the end of the report's title.
    fn routers(&self, run: &Run) -> String {
        if self.callee_targets.is_empty() {
            return format!(" at {}", run.target.authority());
        }
        let callees: Vec<String> = self.callee_targets.iter().map(Target::authority).collect();
        format!(
            "; callers at {}; callees at {}",
            run.target.authority(),
            callees.join(", ")
        )
    }
}

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    /// Callers may call (set once everyone is ready).
    go: AtomicBool,
    /// Callers stop calling and wait for their answers.
    draining: AtomicBool,
    /// Sessions set up: callees registered, callers whose probe call
    /// succeeded.
    ready: AtomicUsize,
    /// Callees registered (the callers probe once all are).
    registered: AtomicUsize,
    setup_failure: Mutex<Option<String>>,
    calls: AtomicU64,
    results: AtomicU64,
    errors_answered: AtomicU64,
    latency: Vec<Mutex<Histogram<u64>>>,
    errors: Errors,
}

/// Runs the scenario.
pub(crate) fn run(run: &Run, rpc: &Rpc, progress: &Progress) -> io::Result<Report> {
    if (rpc.procedure.is_none() && rpc.callees == 0) || rpc.callers == 0 || rpc.window == 0 {
        return Err(io::Error::other(
            "--callees, --callers and --window must each be at least 1",
        ));
    }
    let threads = run.load_cores.len();
    let shared = Arc::new(Shared {
        latency: crate::report::thread_histograms(threads)?,
        ..Shared::default()
    });
    let workers = {
        let (run, rpc, shared) = (run.clone(), rpc.clone(), shared.clone());
        pool::spawn(&run.load_cores.clone(), move |w| {
            worker(w, threads, run.clone(), rpc.clone(), shared.clone())
        })?
    };
    let outcome = measure(run, rpc, &shared, progress);
    shared.stop.store(true, Ordering::Release);
    let joined = workers.join();
    let report = outcome?;
    joined?;
    Ok(report)
}

fn measure(run: &Run, rpc: &Rpc, shared: &Shared, progress: &Progress) -> io::Result<Report> {
    let sessions = rpc.own_callees() + rpc.callers;
    let deadline = Instant::now() + Duration::from_secs(60);
    while shared.ready.load(Ordering::Acquire) < sessions {
        if let Some(failure) = shared.setup_failure.lock().ok().and_then(|f| f.clone()) {
            return Err(io::Error::other(format!(
                "a session could not be set up: {failure}"
            )));
        }
        if Instant::now() > deadline {
            return Err(io::Error::other(
                "the callees and callers did not join in 60 s",
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let errors_before = shared.errors.snapshot();
    let meter = Meter::start(&run.router_pids, run.load_cores.len());
    let started = Instant::now();
    shared.go.store(true, Ordering::Release);
    let mut throughput = Vec::new();
    let mut last = (0.0, 0);
    while started.elapsed() < run.duration {
        std::thread::sleep(Duration::from_millis(250));
        let t = started.elapsed().as_secs_f64();
        let results = shared.results.load(Ordering::Relaxed);
        if t - last.0 >= 1.0 - 1e-3 {
            throughput.push((t, (results - last.1) as f64 / (t - last.0)));
            last = (t, results);
        }
        progress.update(format!(
            "calls answered {} ({}/s) | errors {}",
            format_value(results as f64),
            format_value(results as f64 / t.max(1e-3)),
            shared.errors.total()
        ));
    }
    let seconds = started.elapsed().as_secs_f64();
    shared.draining.store(true, Ordering::Release);
    let drain_started = Instant::now();
    let answered =
        || shared.results.load(Ordering::Acquire) + shared.errors_answered.load(Ordering::Acquire);
    while answered() < shared.calls.load(Ordering::Acquire) && drain_started.elapsed() < DRAIN_MAX {
        std::thread::sleep(Duration::from_millis(10));
    }
    let calls = shared.calls.load(Ordering::Acquire);
    let results = shared.results.load(Ordering::Acquire);
    let errors = shared.errors_answered.load(Ordering::Acquire);
    let latency = crate::report::merged(&shared.latency)?;
    let mut report = Report::new(format!(
        "rpc: {} of {} callee(s), {} caller(s) x {} in flight, {} B payload, {}{}",
        rpc.procedure(),
        rpc.own_callees(),
        rpc.callers,
        rpc.window,
        rpc.payload_bytes,
        run.target.serializer.name(),
        rpc.routers(run)
    ));
    report.push("calls_per_s", results as f64 / seconds, "1/s");
    report.push("calls_made", calls as f64, "");
    report.push("calls_answered", (results + errors) as f64, "");
    report.push(
        "calls_unanswered",
        calls.saturating_sub(results + errors) as f64,
        "",
    );
    report.push("call_errors", errors as f64, "");
    report.push_latency(&latency);
    meter.finish(
        &mut report,
        results,
        "call",
        seconds + drain_started.elapsed().as_secs_f64(),
    );
    report
        .notes
        .extend(error_notes(&errors_before, &shared.errors.snapshot()));
    report.throughput = throughput;
    report.throughput_label = "calls/s answered".into();
    Ok(report)
}

async fn worker(w: usize, n: usize, run: Run, rpc: Rpc, shared: Arc<Shared>) -> io::Result<()> {
    // Callees come first: a call before any registration would fail.
    for index in (w..rpc.own_callees()).step_by(n) {
        let target = rpc.callee_target(index, &run).clone();
        let (shared, shared_registration) = (shared.clone(), rpc.callees > 1);
        tokio::task::spawn_local(async move {
            if let Err(e) = callee(index, &target, shared_registration, &shared).await {
                failed(&shared, e);
            }
        });
    }
    for index in (w..rpc.callers).step_by(n) {
        let (run, rpc, shared) = (run.clone(), rpc.clone(), shared.clone());
        tokio::task::spawn_local(async move {
            if let Err(e) = caller(index, w, &run, &rpc, &shared).await {
                failed(&shared, e);
            }
        });
    }
    while !shared.stop.load(Ordering::Acquire) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

fn failed(shared: &Shared, error: io::Error) {
    if shared.go.load(Ordering::Acquire) {
        shared.errors.add(error.to_string());
    } else if let Ok(mut first) = shared.setup_failure.lock() {
        first.get_or_insert_with(|| error.to_string());
    }
}

async fn callee(
    index: usize,
    target: &Target,
    shared_registration: bool,
    shared: &Shared,
) -> io::Result<()> {
    let registered = || {
        shared.registered.fetch_add(1, Ordering::AcqRel);
        shared.ready.fetch_add(1, Ordering::AcqRel);
    };
    echo_callee(
        target,
        nonce(3_000_000 + index),
        PROCEDURE,
        shared_registration,
        &shared.errors,
        registered,
    )
    .await
}

/// Registers `procedure` at `target` and answers every INVOCATION with a
/// YIELD of its own payload, until the connection ends (an error: the
/// callee was meant to serve the whole run). `registered` runs once the
/// registration is acknowledged; messages it cannot use count in `errors`.
/// `nonce` is its connection's handshake nonce ([`Conn::join`]).
pub(crate) async fn echo_callee(
    target: &Target,
    nonce: [u8; 16],
    procedure: &str,
    shared_registration: bool,
    errors: &Errors,
    registered: impl FnOnce(),
) -> io::Result<()> {
    let mut conn = Conn::join(target, nonce).await?;
    wamp::register(&mut conn, procedure, shared_registration).await?;
    registered();
    let serializer = conn.serializer();
    let mut invocations = Vec::new();
    let mut unexpected = Vec::new();
    loop {
        let open = conn
            .read_batch(|message, _| {
                if sniff::message_type(serializer, message) == Some(INVOCATION) {
                    invocations.push(bytes::Bytes::copy_from_slice(message));
                } else {
                    unexpected.push(message.to_vec());
                }
            })
            .await?;
        for raw in invocations.drain(..) {
            match codec::decode(serializer, raw) {
                Ok(Message::Invocation(invocation)) => conn.queue(&Message::Yield(Yield {
                    request: invocation.request,
                    options: Dict::new(),
                    payload: invocation.payload,
                }))?,
                Ok(_) => {}
                Err(e) => errors.add(format!("undecodable INVOCATION: {e}")),
            }
        }
        for message in unexpected.drain(..) {
            errors.add(describe(serializer, message));
        }
        conn.flush().await?;
        if !open {
            return Err(io::Error::other("the router closed a callee's connection"));
        }
    }
}

async fn caller(
    index: usize,
    worker: usize,
    run: &Run,
    rpc: &Rpc,
    shared: &Shared,
) -> io::Result<()> {
    let mut conn = Conn::join(&run.target, nonce(4_000_000 + index)).await?;
    while shared.registered.load(Ordering::Acquire) < rpc.own_callees() {
        if shared.stop.load(Ordering::Acquire) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let serializer = conn.serializer();
    let source = u16::try_from(index).unwrap_or(u16::MAX);
    let mut args = wamp::StampedArgs::new(serializer, rpc.payload_bytes)?;
    let mut seq = 0u64;
    probe(&mut conn, &run.target, rpc, &mut args, source, &mut seq).await?;
    shared.ready.fetch_add(1, Ordering::AcqRel);
    while !shared.go.load(Ordering::Acquire) {
        if shared.stop.load(Ordering::Acquire) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut in_flight = 0usize;
    let mut latencies_us = Vec::new();
    let mut error_messages = Vec::new();
    loop {
        if !shared.draining.load(Ordering::Acquire) {
            let now_ns = stamp::now_ns();
            let mut made = 0;
            while in_flight < rpc.window {
                seq += 1;
                let stamp = Stamp {
                    source,
                    seq,
                    sent_ns: now_ns,
                };
                conn.queue(&Message::Call(Call {
                    request: wamp::request(seq),
                    options: Dict::new(),
                    procedure: rpc.procedure().into(),
                    payload: args.payload(stamp),
                }))?;
                in_flight += 1;
                made += 1;
            }
            shared.calls.fetch_add(made, Ordering::Relaxed);
            conn.flush().await?;
        } else if in_flight == 0 {
            return Ok(());
        }
        let mut results = 0u64;
        let open = conn
            .read_batch(
                |message, now_ns| match sniff::message_type(serializer, message) {
                    Some(RESULT) => {
                        results += 1;
                        if let Some((stamp, _)) = Stamp::find(message) {
                            latencies_us.push(now_ns.saturating_sub(stamp.sent_ns) / 1000);
                        }
                    }
                    _ => error_messages.push(message.to_vec()),
                },
            )
            .await?;
        in_flight = in_flight.saturating_sub(results as usize);
        shared.results.fetch_add(results, Ordering::Relaxed);
        if let Some(Ok(mut h)) = shared.latency.get(worker).map(|h| h.lock()) {
            for &us in &latencies_us {
                h.saturating_record(us.max(1));
            }
        }
        latencies_us.clear();
        for message in error_messages.drain(..) {
            if sniff::message_type(serializer, &message) == Some(ERROR) {
                in_flight = in_flight.saturating_sub(1);
                shared.errors_answered.fetch_add(1, Ordering::Relaxed);
            }
            shared.errors.add(describe(serializer, message));
        }
        conn.flush().await?;
        if !open {
            return Err(io::Error::other("the router closed a caller's connection"));
        }
    }
}

/// Calls the procedure until a call succeeds (a RESULT), calling again
/// [`PROBE_RETRY`] after each [`NO_SUCH_PROCEDURE`] for up to
/// [`PROBE_MAX`]: the callees may have registered at another router, whose
/// news reaches the callers' router a little later. Any other answer is an
/// error. Request ids continue from `seq`, as the measured calls will.
async fn probe(
    conn: &mut Conn,
    target: &Target,
    rpc: &Rpc,
    args: &mut wamp::StampedArgs,
    source: u16,
    seq: &mut u64,
) -> io::Result<()> {
    let started = Instant::now();
    let mut refused = 0u64;
    loop {
        *seq += 1;
        let stamp = Stamp {
            source,
            seq: *seq,
            sent_ns: stamp::now_ns(),
        };
        conn.queue(&Message::Call(Call {
            request: wamp::request(*seq),
            options: Dict::new(),
            procedure: rpc.procedure().into(),
            payload: args.payload(stamp),
        }))?;
        let left = PROBE_MAX.saturating_sub(started.elapsed());
        let answer = tokio::time::timeout(left, conn.next_message())
            .await
            .map_err(|_| {
                io::Error::other(format!(
                    "a probe call of {} at {} was not answered in {} s",
                    rpc.procedure(),
                    target.authority(),
                    PROBE_MAX.as_secs()
                ))
            })??;
        match answer {
            Message::Result(_) => return Ok(()),
            Message::Error(e) if e.error.as_str() == NO_SUCH_PROCEDURE => {
                refused += 1;
                if started.elapsed() + PROBE_RETRY > PROBE_MAX {
                    return Err(io::Error::other(format!(
                        "{} at {} still answered {NO_SUCH_PROCEDURE} after {} s \
                         ({refused} probe calls, one every {} ms): no callee of it \
                         reached the callers' router",
                        rpc.procedure(),
                        target.authority(),
                        PROBE_MAX.as_secs(),
                        PROBE_RETRY.as_millis()
                    )));
                }
                tokio::time::sleep(PROBE_RETRY).await;
            }
            Message::Error(e) => {
                return Err(io::Error::other(format!(
                    "a probe call of {} at {} failed: {}",
                    rpc.procedure(),
                    target.authority(),
                    e.error.as_str()
                )));
            }
            other => return Err(unexpected("RESULT", &other)),
        }
    }
}
