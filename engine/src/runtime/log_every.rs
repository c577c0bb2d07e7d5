//! At most one log line per interval for an event that can repeat many
//! times a second (a failing `accept` when the process is out of file
//! descriptors), with the count of the ones not logged.

use std::time::{Duration, Instant};

/// How often a repeating event is logged.
pub(crate) struct LogEvery {
    interval: Duration,
    last: Option<Instant>,
    /// Events since the last line.
    unlogged: u64,
}

impl LogEvery {
    /// At most one line per `interval`.
    pub(crate) fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: None,
            unlogged: 0,
        }
    }

    /// Counts an event at `now`; `Some(n)` when it is to be logged, `n`
    /// being the events since the last line that were not.
    pub(crate) fn event(&mut self, now: Instant) -> Option<u64> {
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < self.interval)
        {
            self.unlogged += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.unlogged))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_with_the_count_left_out() {
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        let mut log = LogEvery::new(Duration::from_secs(1));
        assert_eq!(log.event(at(0)), Some(0));
        for ms in (10..1000).step_by(10) {
            assert_eq!(log.event(at(ms)), None);
        }
        assert_eq!(log.event(at(1000)), Some(99));
        assert_eq!(log.event(at(1500)), None);
        assert_eq!(log.event(at(2500)), Some(1));
    }
}
