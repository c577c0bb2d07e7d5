//! What the engine gives the router as its driver: the clock (tokio's,
//! which a simulation pauses and moves by hand) and the slow-work pool.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use ringbar_router::core::Drivers;
use ringbar_router::timers::Clock;

use crate::slow_work::SlowWork;

/// The runtime's clock, and a slow-work pool running at most half as many
/// jobs at once as there are `cores` (at least one), so routing keeps most
/// of the CPU during a login storm.
pub(crate) fn drivers(cores: usize) -> Drivers {
    Drivers {
        clock: Arc::new(RuntimeClock),
        slow_work: Arc::new(SlowWork::new(cores / 2)),
    }
}

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
