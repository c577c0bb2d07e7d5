//! `fanout` (and `churn`, which is a fan-out with sessions coming and
//! going beside it): S subscribers on T topics, P publishers, a payload
//! size and a rate; reports publications/s, events/s delivered, the
//! delivery ratio, lost and out-of-order events per subscriber, end-to-end
//! latency, and the router's CPU per delivered event. `--find-max` searches
//! for the highest rate delivered without loss under a p99 bound. With
//! `--subscriber-urls` the subscribers join other routers than the
//! publishers (the nodes of a cluster), so the figures include the hop.

mod phase;
mod search;
mod tasks;
mod timeline;

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::churn::{Churn, ChurnCounters};
use crate::pool;
use crate::progress::Progress;
use crate::report::Report;
use crate::run::{Errors, Run};
use crate::target::Target;

pub(crate) use tasks::{describe, topic_uri};

/// The `rate` value that means "as fast as the router takes them".
pub(crate) const MAX_RATE: u64 = u64::MAX;
/// How long setting up may take per session, on top of a fixed allowance.
const SETUP_PER_SESSION: Duration = Duration::from_millis(20);

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct Fanout {
    /// Subscribers in all; subscriber i takes topic i mod `topics`.
    pub(crate) subscribers: usize,
    /// Topics.
    pub(crate) topics: usize,
    /// Publishers; see [`Fanout::topics_of`].
    pub(crate) publishers: usize,
    /// Length of each event's one string argument.
    pub(crate) payload_bytes: usize,
    /// Publications per second over all publishers, or [`MAX_RATE`].
    pub(crate) rate: u64,
    /// Search the highest loss-free rate instead of running `rate`.
    pub(crate) find_max: Option<FindMax>,
    /// The first N subscribers read slowly (to check that loss is reported).
    pub(crate) slow_subscribers: usize,
    /// How long a slow subscriber sleeps after each read.
    pub(crate) slow_delay: Duration,
    /// Sessions coming and going beside the fan-out (`churn`).
    pub(crate) churn: Option<Churn>,
    /// Where the subscribers join, round-robin (`--subscriber-urls`);
    /// empty: the run's target, like the publishers.
    pub(crate) subscriber_targets: Vec<Target>,
}

/// `--find-max`: the search for the highest loss-free rate.
#[derive(Debug, Clone)]
pub(crate) struct FindMax {
    /// A rate passes only with p99 latency at or under this.
    pub(crate) max_p99_us: u64,
    /// The first rate tried (publications/s).
    pub(crate) start_rate: u64,
    /// At most this many rates are tried.
    pub(crate) max_probes: usize,
}

impl Fanout {
    /// The topics publisher `p` publishes to: every P-th topic, or one
    /// shared topic when there are more publishers than topics.
    fn topics_of(&self, p: usize) -> Vec<usize> {
        if self.publishers <= self.topics {
            (p..self.topics).step_by(self.publishers.max(1)).collect()
        } else {
            vec![p % self.topics]
        }
    }

    /// The router subscriber `index` joins.
    fn subscriber_target<'a>(&'a self, index: usize, run: &'a Run) -> &'a Target {
        let n = self.subscriber_targets.len().max(1);
        self.subscriber_targets
            .get(index % n)
            .unwrap_or(&run.target)
    }

    /// Where the sessions join, for the end of the report's title.
    fn routers(&self, run: &Run) -> String {
        if self.subscriber_targets.is_empty() {
            return format!(" at {}", run.target.authority());
        }
        let subscribers: Vec<String> = self
            .subscriber_targets
            .iter()
            .map(Target::authority)
            .collect();
        format!(
            "; publishers at {}; subscribers at {}",
            run.target.authority(),
            subscribers.join(", ")
        )
    }

    fn check(&self) -> io::Result<()> {
        if self.subscribers == 0 || self.topics == 0 || self.publishers == 0 {
            return Err(io::Error::other(
                "--subscribers, --topics and --publishers must each be at least 1",
            ));
        }
        if self.publishers > usize::from(u16::MAX) {
            return Err(io::Error::other("--publishers: at most 65,535"));
        }
        Ok(())
    }
}

/// A counter alone on its cache line, so that counters written by
/// different load threads never make their cores fight over one line.
#[repr(align(64))]
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`.
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The count now.
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// State shared by the coordinator and the sessions of every thread.
pub(crate) struct Shared {
    /// The run is over: sessions end.
    pub(crate) stop: AtomicBool,
    /// Publications per second over all publishers: 0 pauses them.
    pub(crate) rate: AtomicU64,
    /// Bumped with every rate change, so publishers restart their pacing.
    pub(crate) generation: AtomicU64,
    /// Publishers between reading the rate and counting what they queued:
    /// a phase counts what was published once none is ([`Shared::pause`]).
    pub(crate) publishing: AtomicUsize,
    /// Sessions joined (and subscribed).
    pub(crate) ready: AtomicUsize,
    /// Sessions that failed before they were ready, and the first reason.
    pub(crate) setup_failure: Mutex<Option<String>>,
    /// Sessions that failed after they were ready (their loss is counted).
    pub(crate) disconnected: AtomicU64,
    /// Publications sent, per topic.
    pub(crate) published: Vec<Counter>,
    /// Events received, per subscriber.
    pub(crate) received: Vec<Counter>,
    /// Events not above the last sequence number from their publisher.
    pub(crate) out_of_order: AtomicU64,
    /// End-to-end latency in microseconds, one histogram per load thread.
    pub(crate) latency: Vec<Mutex<Histogram<u64>>>,
    /// The largest latency in each 100 ms of the phase.
    pub(crate) timeline: timeline::Timeline,
    /// Errors the sessions met, by cause.
    pub(crate) errors: Errors,
    /// The churn sessions' counters.
    pub(crate) churn: ChurnCounters,
}

impl Shared {
    fn new(fanout: &Fanout, threads: usize, longest_phase: Duration) -> io::Result<Self> {
        let histogram = || crate::report::latency_histogram().map(Mutex::new);
        Ok(Self {
            stop: AtomicBool::new(false),
            rate: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            publishing: AtomicUsize::new(0),
            ready: AtomicUsize::new(0),
            setup_failure: Mutex::new(None),
            disconnected: AtomicU64::new(0),
            published: (0..fanout.topics).map(|_| Counter::default()).collect(),
            received: (0..fanout.subscribers)
                .map(|_| Counter::default())
                .collect(),
            out_of_order: AtomicU64::new(0),
            latency: (0..threads)
                .map(|_| histogram())
                .collect::<io::Result<_>>()?,
            timeline: timeline::Timeline::new(longest_phase),
            errors: Errors::default(),
            churn: ChurnCounters::default(),
        })
    }

    /// Records a session's failure: before it was ready the run cannot
    /// start; after, it is a disconnection whose loss the figures show.
    pub(crate) fn session_failed(&self, error: &io::Error) {
        if self.rate.load(Ordering::Acquire) == 0 && self.generation.load(Ordering::Acquire) == 0 {
            if let Ok(mut first) = self.setup_failure.lock() {
                first.get_or_insert_with(|| error.to_string());
            }
        } else {
            self.disconnected.fetch_add(1, Ordering::Relaxed);
            self.errors.add(error.to_string());
        }
    }

    fn set_rate(&self, rate: u64) {
        self.rate.store(rate, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Stops the publishers and returns once none is still counting a
    /// batch it started before: what `published` says then is all that
    /// will be sent, so no event arrives that was not expected.
    fn pause(&self) {
        self.set_rate(0);
        while self.publishing.load(Ordering::SeqCst) > 0 {
            std::thread::sleep(std::time::Duration::from_micros(100));
        }
    }

    fn received_total(&self) -> u64 {
        self.received.iter().map(Counter::get).sum()
    }
}

/// Runs the scenario: the fixed rate, or the search with `--find-max`.
pub(crate) fn run(run: &Run, fanout: &Fanout, progress: &Progress) -> io::Result<Report> {
    fanout.check()?;
    let threads = run.load_cores.len();
    let shared = Arc::new(Shared::new(fanout, threads, phase::longest(run))?);
    let workers = {
        let (run, fanout, shared) = (run.clone(), fanout.clone(), shared.clone());
        pool::spawn(&run.load_cores.clone(), move |w| {
            tasks::worker(w, threads, run.clone(), fanout.clone(), shared.clone())
        })?
    };
    let outcome =
        wait_until_ready(fanout, &shared, progress).and_then(|()| match &fanout.find_max {
            Some(find) => search::find_max(run, fanout, find, &shared, progress),
            None => phase::measure(run, fanout, fanout.rate, &shared, progress)
                .map(|result| result.report),
        });
    shared.stop.store(true, Ordering::Release);
    let joined = workers.join();
    let report = outcome?;
    joined?;
    Ok(report)
}

fn wait_until_ready(fanout: &Fanout, shared: &Shared, progress: &Progress) -> io::Result<()> {
    let sessions = fanout.subscribers + fanout.publishers;
    let deadline = Instant::now() + Duration::from_secs(30) + SETUP_PER_SESSION * sessions as u32;
    loop {
        if let Some(failure) = shared.setup_failure.lock().ok().and_then(|f| f.clone()) {
            return Err(io::Error::other(format!(
                "a session could not be set up: {failure}"
            )));
        }
        let ready = shared.ready.load(Ordering::Acquire);
        if ready >= sessions {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(io::Error::other(format!(
                "only {ready} of {sessions} sessions joined and subscribed in time"
            )));
        }
        progress.update(format!("setting up: {ready} of {sessions} sessions joined"));
        std::thread::sleep(Duration::from_millis(50));
    }
}
