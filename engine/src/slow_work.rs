//! Work too slow for a router core (password hashes, key derivation with
//! up to a million PBKDF2 iterations): it runs on tokio's blocking threads,
//! at most a few at once router-wide, so a login storm neither stalls
//! routing nor starts a thread per login. A job's result comes back to the
//! core as a continuation (the session that asked reads nothing meanwhile);
//! there is at most one job per connection, and connections are bounded by
//! `max_connections` and the join deadline.

use std::sync::Arc;
#[cfg(any(test, feature = "fuzzing"))]
use std::sync::atomic::{AtomicUsize, Ordering};

use ringbar_router::auth::Decided;
use tokio::sync::Semaphore;

/// The router's bounded pool for slow work.
#[derive(Debug)]
pub(crate) struct SlowWork {
    turns: Arc<Semaphore>,
    /// Jobs asked for and not answered yet: a simulation waits for them,
    /// since their threads run outside its clock.
    #[cfg(any(test, feature = "fuzzing"))]
    unanswered: Arc<AtomicUsize>,
}

impl SlowWork {
    /// A pool running at most `threads` jobs at once (at least one).
    pub(crate) fn new(threads: usize) -> Self {
        Self {
            turns: Arc::new(Semaphore::new(threads.max(1))),
            #[cfg(any(test, feature = "fuzzing"))]
            unanswered: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Whether every job asked for was answered.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn is_idle(&self) -> bool {
        self.unanswered.load(Ordering::Acquire) == 0
    }

    /// Runs `work` off the core once a turn is free, then hands its result
    /// to `done` on this core (`None` when the runtime is going away). The
    /// turn is held until `work` ends, even when nobody waits for it any
    /// more (its connection closed). Must be called on a core thread.
    fn start_job<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
        done: impl FnOnce(Option<T>) + 'static,
    ) {
        let turns = self.turns.clone();
        #[cfg(any(test, feature = "fuzzing"))]
        let unanswered = Unanswered::count(self.unanswered.clone());
        tokio::task::spawn_local(async move {
            let result = async {
                let turn = turns.acquire_owned().await.ok()?;
                tokio::task::spawn_blocking(move || {
                    let result = work();
                    drop(turn);
                    result
                })
                .await
                .ok()
            };
            done(result.await);
            #[cfg(any(test, feature = "fuzzing"))]
            drop(unanswered);
        });
    }
}

impl ringbar_router::auth::SlowWork for SlowWork {
    fn start(
        &self,
        work: Box<dyn FnOnce() -> Decided + Send>,
        done: Box<dyn FnOnce(Option<Decided>)>,
    ) {
        self.start_job(work, done);
    }
}

/// Counts a job as unanswered while it lives.
#[cfg(any(test, feature = "fuzzing"))]
struct Unanswered(Arc<AtomicUsize>);

#[cfg(any(test, feature = "fuzzing"))]
impl Unanswered {
    fn count(jobs: Arc<AtomicUsize>) -> Self {
        jobs.fetch_add(1, Ordering::AcqRel);
        Self(jobs)
    }
}

#[cfg(any(test, feature = "fuzzing"))]
impl Drop for Unanswered {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;
    use std::time::Duration;

    #[test]
    fn no_more_than_the_limit_run_at_once() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let pool = SlowWork::new(2);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let finished = Rc::new(Cell::new(0));
        runtime.block_on(async {
            let local = tokio::task::LocalSet::new();
            local
                .run_until(async {
                    for _ in 0..8 {
                        let (running, most, finished) =
                            (running.clone(), most.clone(), finished.clone());
                        pool.start_job(
                            move || {
                                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                                most.fetch_max(now, Ordering::SeqCst);
                                std::thread::sleep(Duration::from_millis(20));
                                running.fetch_sub(1, Ordering::SeqCst);
                            },
                            move |done| finished.set(finished.get() + usize::from(done.is_some())),
                        );
                    }
                })
                .await;
            local.await;
        });
        assert_eq!(finished.get(), 8);
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }
}
