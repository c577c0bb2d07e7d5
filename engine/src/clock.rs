//! The router's clock on the runtime's time: tokio's clock, which a
//! simulation pauses and moves by hand.

use std::time::{Instant, SystemTime};

use ringbar_router::timers::Clock;

/// The runtime's clock.
pub(crate) struct RuntimeClock;

impl Clock for RuntimeClock {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }
}
