//! The delay before trying again (a reconnect, a restart): doubling from
//! `first` up to `max` while attempts keep failing quickly, back to
//! `first` once a run lasted `reset_after`. Shared by everything in a node
//! that reconnects or restarts, so they all back off alike.

use std::time::Duration;

/// The retry delays of one thing that reconnects or restarts.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    reset_after: Duration,
    next: Duration,
}

impl Backoff {
    /// Delays from `first` doubling up to `max`; a run of `reset_after`
    /// or longer starts again from `first`.
    pub fn new(first: Duration, max: Duration, reset_after: Duration) -> Self {
        Backoff {
            first,
            max,
            reset_after,
            next: first,
        }
    }

    /// The delay before the next attempt, after a run that lasted `ran`
    /// (zero for an attempt that failed at once).
    pub fn after_run(&mut self, ran: Duration) -> Duration {
        if ran >= self.reset_after {
            self.next = self.first;
        }
        let delay = self.next;
        self.next = delay.saturating_mul(2).min(self.max);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_limit_and_reset_after_a_long_run() {
        let mut backoff = Backoff::new(
            Duration::from_secs(1),
            Duration::from_secs(5),
            Duration::from_secs(30),
        );
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
