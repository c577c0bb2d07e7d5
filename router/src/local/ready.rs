//! The queues of one core that have frames for their writer, listed for a
//! driver that writes every connection of its core from one place (one
//! pass per tick over the connections with frames, not a task per
//! connection woken per write). A queue joins the list when it goes from
//! empty to not empty, or closes; the driver takes the whole list, writes
//! what each queue holds, and waits for the list's signal again.
//!
//! Bounded: a queue is listed again only after its writer took what it
//! held, so the list holds at most a few entries per connection of the
//! core (`limits.max_connections` bounds those).

use std::cell::RefCell;
use std::task::{Context, Poll};

use crate::local::signal::Signal;
use crate::slab::Key;

/// The listed queues, by the key their driver gave them.
#[derive(Default)]
pub struct ReadyQueues {
    keys: RefCell<Vec<Key>>,
    signal: Signal,
}

impl ReadyQueues {
    /// Lists the queue `key` and wakes the driver.
    pub fn push(&self, key: Key) {
        self.keys.borrow_mut().push(key);
        self.signal.raise();
    }

    /// Moves the listed keys, oldest first, into `into` (cleared first).
    pub fn take(&self, into: &mut Vec<Key>) {
        into.clear();
        std::mem::swap(&mut *self.keys.borrow_mut(), into);
    }

    /// Whether no queue is listed.
    pub fn is_empty(&self) -> bool {
        self.keys.borrow().is_empty()
    }

    /// `Ready` once a queue was listed since the last `Ready`; else `cx` is
    /// woken by the next one.
    pub fn poll_listed(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.signal.poll_raised(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slab::Slab;

    #[test]
    fn keys_come_out_in_the_order_they_were_listed_and_once() {
        let mut slab = Slab::default();
        let a = slab.insert_with(|_| ()).expect("a key");
        let b = slab.insert_with(|_| ()).expect("a key");
        let ready = ReadyQueues::default();
        ready.push(b);
        ready.push(a);
        let mut keys = vec![a];
        ready.take(&mut keys);
        assert_eq!(keys, vec![b, a]);
        assert!(ready.is_empty());
        ready.take(&mut keys);
        assert!(keys.is_empty());
    }
}
