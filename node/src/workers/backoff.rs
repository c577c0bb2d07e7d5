//! The delay before a guest is started again: doubling from `delay_ms` up
//! to `max_delay_ms` while it keeps failing quickly, back to `delay_ms`
//! once a run lasted `reset_after_ms`.

use std::time::Duration;

use crate::config::guest::Restart;

/// The restart delays of one guest.
#[derive(Debug)]
pub(super) struct Backoff {
    restart: Restart,
    next_ms: u64,
}

impl Backoff {
    /// Delays for `restart`, starting at its `delay_ms`.
    pub(super) fn new(restart: Restart) -> Self {
        Backoff {
            restart,
            next_ms: restart.delay_ms,
        }
    }

    /// The delay before the next start, after a run that lasted `ran`.
    pub(super) fn after_run(&mut self, ran: Duration) -> Duration {
        if ran >= Duration::from_millis(self.restart.reset_after_ms) {
            self.next_ms = self.restart.delay_ms;
        }
        let delay_ms = self.next_ms;
        self.next_ms = delay_ms.saturating_mul(2).min(self.restart.max_delay_ms);
        Duration::from_millis(delay_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::guest::RestartPolicy;

    #[test]
    fn delays_double_up_to_the_limit_and_reset_after_a_long_run() {
        let mut backoff = Backoff::new(Restart {
            policy: RestartPolicy::OnFailure,
            delay_ms: 1_000,
            max_delay_ms: 5_000,
            reset_after_ms: 30_000,
        });
        let quick = Duration::from_millis(10);
        let delays: Vec<u64> = (0..5)
            .map(|_| backoff.after_run(quick).as_millis() as u64)
            .collect();
        assert_eq!(delays, [1_000, 2_000, 4_000, 5_000, 5_000]);
        assert_eq!(
            backoff.after_run(Duration::from_secs(30)),
            Duration::from_secs(1)
        );
        assert_eq!(backoff.after_run(quick), Duration::from_secs(2));
    }
}
