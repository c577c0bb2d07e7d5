//! Pooled connections that run several calls' statements at once.
//! tokio-postgres pipelines the queries of one client: the bridge writes
//! the statements waiting for a connection in one send, and PostgreSQL
//! reads them in one wake-up. With one statement per connection at a time,
//! each connection idled between an answer and the next statement, and
//! every statement cost a wake-up of a backend and of the bridge.
//!
//! A lane is one pooled connection and its statements in flight, oldest
//! first. The oldest one is the statement the server runs, so it is the
//! only one a cancel request (which cancels whatever the connection runs)
//! may be sent for: a call interrupted while its statement waits behind
//! others is cancelled once its statement is the oldest. A lane whose
//! oldest statement runs long takes no more statements (a call waits for
//! room on another), so a slow function holds up few calls. A lane gives
//! its connection back to the pool as soon as it is empty; while someone
//! else waits for the pool with every connection held by lanes (events into
//! SQL, the catalog), one lane takes no more statements until it is empty,
//! so lanes never starve them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use deadpool_postgres::{Object, Pool, PoolError, Status};
use tokio::sync::Notify;

/// Statements in flight on one connection at most.
const DEPTH: usize = 8;
/// A seat's statement number before it is sent (numbers start at 1).
const NOT_SENT: u64 = 0;
/// A lane whose oldest statement has run this long takes no more.
const STALLED: Duration = Duration::from_millis(20);

/// The lanes of one bridge session.
#[derive(Clone)]
pub(crate) struct Lanes {
    pool: Pool,
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// A seat or a statement left, or a statement became the oldest.
    changed: Notify,
}

#[derive(Default)]
struct State {
    lanes: Vec<Lane>,
    /// Numbers lanes and statements, never reused.
    next: u64,
    /// Lanes being opened (waiting for their connection).
    opening: usize,
}

struct Lane {
    id: u64,
    client: Arc<Object>,
    /// Seats taken: statements in flight and seats about to send one.
    load: usize,
    /// The statements sent, oldest first.
    sent: VecDeque<u64>,
    /// Since when the oldest statement runs.
    oldest_since: Instant,
    /// Takes no more seats: its connection goes back to the pool once empty.
    retiring: bool,
}

/// Room for one statement on a lane (prepare the statement, then
/// [`Seat::send`]); leaving frees it.
pub(crate) struct Seat {
    shared: Arc<Shared>,
    lane: u64,
    client: Arc<Object>,
    /// The statement's number once sent (0 before).
    statement: AtomicU64,
}

impl Lanes {
    /// Lanes over the connections of `pool`.
    pub(crate) fn new(pool: Pool) -> Self {
        Self {
            pool,
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                changed: Notify::new(),
            }),
        }
    }

    /// A seat: on a new lane while the pool has a connection to spare (so
    /// that calls spread over connections first), else on the least loaded
    /// lane with room whose oldest statement does not run long; waits while
    /// there is none (or while the first lane opens), looking again when a
    /// lane changes and every [`STALLED`].
    pub(crate) async fn seat(&self) -> Result<Seat, PoolError> {
        loop {
            let changed = self.shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let opening = {
                let mut state = self.shared.lock();
                let pool = self.pool.status();
                retire_one_if_others_wait(&mut state, &pool);
                let held = state.lanes.len() + state.opening;
                // Connections the pool can give that no lane being opened
                // will take.
                let spare = pool.available + pool.max_size.saturating_sub(pool.size);
                if (held < pool.max_size && spare > state.opening) || held == 0 {
                    state.opening += 1;
                    Some(Opening(&self.shared))
                } else if let Some(seat) = self.take_room(&mut state) {
                    return Ok(seat);
                } else {
                    None
                }
            };
            if let Some(opening) = opening {
                return self.open(opening).await;
            }
            // A connection someone else gives back to the pool says
            // nothing here: look again now and then.
            tokio::select! {
                () = changed => {}
                () = tokio::time::sleep(STALLED) => {}
            }
        }
    }

    /// A seat on a new lane, over a connection from the pool.
    async fn open(&self, opening: Opening<'_>) -> Result<Seat, PoolError> {
        let got = self.pool.get().await;
        drop(opening);
        let client = Arc::new(got?);
        let mut state = self.shared.lock();
        state.next += 1;
        let id = state.next;
        let lane = Lane {
            id,
            client,
            load: 1,
            sent: VecDeque::new(),
            oldest_since: Instant::now(),
            retiring: false,
        };
        let seat = lane.seat(&self.shared);
        state.lanes.push(lane);
        Ok(seat)
    }

    /// A seat on the least loaded lane with room whose oldest statement
    /// does not run long.
    fn take_room(&self, state: &mut State) -> Option<Seat> {
        let now = Instant::now();
        let lane = state
            .lanes
            .iter_mut()
            .filter(|lane| !lane.retiring && lane.load < DEPTH)
            .filter(|lane| lane.sent.is_empty() || now.duration_since(lane.oldest_since) < STALLED)
            .min_by_key(|lane| lane.load)?;
        lane.load += 1;
        Some(lane.seat(&self.shared))
    }
}

/// Someone else waits for a connection and the lanes hold every one:
/// the least loaded lane takes no more seats, so that its connection
/// goes back to the pool.
fn retire_one_if_others_wait(state: &mut State, pool: &Status) {
    let retiring = state.lanes.iter().any(|lane| lane.retiring);
    if pool.waiting == 0 || retiring || state.lanes.len() < pool.max_size {
        return;
    }
    if let Some(lane) = state
        .lanes
        .iter_mut()
        .filter(|lane| !lane.retiring)
        .min_by_key(|lane| lane.load)
    {
        lane.retiring = true;
    }
}

impl Lane {
    /// A seat on this lane (its load counts it already).
    fn seat(&self, shared: &Arc<Shared>) -> Seat {
        Seat {
            shared: shared.clone(),
            lane: self.id,
            client: self.client.clone(),
            statement: AtomicU64::new(NOT_SENT),
        }
    }
}

/// A lane being opened: counted in [`State::opening`] until its connection
/// comes, or until the seat is no longer wanted (its future dropped).
struct Opening<'a>(&'a Shared);

impl Drop for Opening<'_> {
    fn drop(&mut self) {
        self.0.lock().opening -= 1;
        self.0.changed.notify_waiters();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent across a panic (every change is one
        // statement), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Seat {
    /// The lane's connection.
    pub(crate) fn client(&self) -> Arc<Object> {
        self.client.clone()
    }

    /// Records that the statement is sent now: the caller polls its query
    /// before anything else runs on this thread, so that the order recorded
    /// is the order sent.
    pub(crate) fn send(&self) {
        let mut state = self.shared.lock();
        state.next += 1;
        let statement = state.next;
        if let Some(lane) = state.lanes.iter_mut().find(|lane| lane.id == self.lane) {
            if lane.sent.is_empty() {
                lane.oldest_since = Instant::now();
            }
            lane.sent.push_back(statement);
        }
        self.statement.store(statement, Ordering::Relaxed);
    }

    /// Whether the statement was sent.
    pub(crate) fn is_sent(&self) -> bool {
        self.statement.load(Ordering::Relaxed) != NOT_SENT
    }

    /// Whether the statement sent is the one the server runs now.
    fn is_oldest(&self) -> bool {
        let statement = self.statement.load(Ordering::Relaxed);
        let state = self.shared.lock();
        state
            .lanes
            .iter()
            .find(|lane| lane.id == self.lane)
            .is_some_and(|lane| lane.sent.front() == Some(&statement))
    }

    /// Waits until the statement sent is the one the server runs.
    pub(crate) async fn oldest(&self) {
        loop {
            let changed = self.shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.is_oldest() {
                return;
            }
            changed.await;
        }
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        let Some(at) = state.lanes.iter().position(|lane| lane.id == self.lane) else {
            return;
        };
        let lane = &mut state.lanes[at];
        lane.load = lane.load.saturating_sub(1);
        let statement = self.statement.load(Ordering::Relaxed);
        if statement != NOT_SENT {
            let was_oldest = lane.sent.front() == Some(&statement);
            lane.sent.retain(|s| *s != statement);
            if was_oldest {
                lane.oldest_since = Instant::now();
            }
        }
        if lane.load == 0 {
            // Empty: its connection goes back to the pool.
            state.lanes.swap_remove(at);
        }
        drop(state);
        self.shared.changed.notify_waiters();
    }
}
