//! How the router tells its driver to look, without waiting itself: a
//! [`Signal`] is raised by routing (frames were queued for an idle writer,
//! a reader's queue drained below its limit) and awaited by the one task
//! of the driver that acts on it. A raise while nobody waits is kept, so
//! it cannot be lost between the driver's check and its wait. One thread,
//! no runtime, no lock: a cell for the flag and one for the waker.

use std::cell::Cell;
use std::future::{Future, poll_fn};
use std::task::{Context, Poll, Waker};

/// A wake-up for one waiting task, kept until taken.
#[derive(Default)]
pub struct Signal {
    raised: Cell<bool>,
    waiter: Cell<Option<Waker>>,
}

impl Signal {
    /// Raises the signal: the waiting task wakes, or the next wait ends at
    /// once.
    pub fn raise(&self) {
        self.raised.set(true);
        if let Some(waiter) = self.waiter.take() {
            waiter.wake();
        }
    }

    /// `Ready` (taking the signal) when it was raised; else `cx` is woken
    /// by the next raise.
    pub fn poll_raised(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.raised.replace(false) {
            return Poll::Ready(());
        }
        let waiter = match self.waiter.take() {
            Some(waiter) if waiter.will_wake(cx.waker()) => waiter,
            _ => cx.waker().clone(),
        };
        self.waiter.set(Some(waiter));
        Poll::Pending
    }

    /// Waits until the signal is raised (taking it).
    pub fn raised(&self) -> impl Future<Output = ()> + '_ {
        poll_fn(|cx| self.poll_raised(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_raise_wakes_the_waiter_once_and_one_before_the_wait_is_kept() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let signal = Signal::default();
        assert!(signal.poll_raised(&mut cx).is_pending());
        signal.raise();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(signal.poll_raised(&mut cx).is_ready());
        assert!(signal.poll_raised(&mut cx).is_pending(), "taken once");
        signal.raise();
        signal.raise();
        assert_eq!(count.0.load(Ordering::SeqCst), 2, "one wake per wait");
        assert!(signal.poll_raised(&mut cx).is_ready());
    }
}
