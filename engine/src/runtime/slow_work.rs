//! Work too slow for a router core (password hashes, key derivation with
//! up to a million PBKDF2 iterations): it runs on tokio's blocking threads,
//! at most a few at once router-wide, so a login storm neither stalls
//! routing nor starts a thread per login. Sessions waiting for a turn wait
//! asynchronously; there is at most one per connection, and connections are
//! bounded by `max_connections` and the join deadline.

use std::sync::Arc;

use tokio::sync::Semaphore;

/// The router's bounded pool for slow work.
#[derive(Debug)]
pub(crate) struct SlowWork {
    turns: Arc<Semaphore>,
}

impl SlowWork {
    /// A pool running at most `threads` jobs at once (at least one).
    pub(crate) fn new(threads: usize) -> Self {
        Self {
            turns: Arc::new(Semaphore::new(threads.max(1))),
        }
    }

    /// Runs `work` off the core once a turn is free, and waits for it; `None`
    /// when the runtime is going away. The turn is held until `work` ends,
    /// even when the caller stops waiting (its connection closed).
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let turn = self.turns.clone().acquire_owned().await.ok()?;
        tokio::task::spawn_blocking(move || {
            let done = work();
            drop(turn);
            done
        })
        .await
        .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn no_more_than_the_limit_run_at_once() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let pool = Arc::new(SlowWork::new(2));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        runtime.block_on(async {
            let local = tokio::task::LocalSet::new();
            let jobs: Vec<_> = (0..8)
                .map(|_| {
                    let (pool, running, most) = (pool.clone(), running.clone(), most.clone());
                    local.spawn_local(async move {
                        pool.run(move || {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(20));
                            running.fetch_sub(1, Ordering::SeqCst);
                        })
                        .await
                    })
                })
                .collect();
            local.await;
            for job in jobs {
                assert_eq!(job.await.unwrap(), Some(()));
            }
        });
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }
}
