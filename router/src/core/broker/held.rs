//! Local deliveries held back while a reader hands over publications that
//! arrived together, so that they go out in one pass over the subscribers
//! ([`super::pubsub::deliver_group`]) instead of one pass each: at a
//! thousand subscribers a pass costs a cache miss or more per subscriber,
//! and a busy publisher's read holds dozens of publications.
//!
//! Order is kept: a publication is held only while its session's driver
//! says more messages of the same read follow at once, and everything held
//! is delivered before that session's next message of any other kind, and
//! before its driver waits for anything (its next read, room in its queue,
//! an authorizer), so no other session's message is routed meanwhile. Only
//! publications that exclude their publisher are held: nothing the
//! publisher is sent (PUBLISHED, errors) can overtake an event of its own.
//! Likewise a core draining its mail holds the publications other cores
//! sent until the drain ends or a mail of another kind comes.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use super::Publication;

/// The most publications held at once: a bound on what a pass waits for,
/// not on a peer (its read size bounds what it sends at once).
const MAX_HELD: usize = 64;

/// Which publications routing may hold back now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Holding {
    /// None: every delivery goes out at once.
    #[default]
    Nothing,
    /// A PUBLISH that more messages of its read follow, if it excludes its
    /// publisher.
    ExcludingPublisher,
    /// A publication another core mailed, whatever its options: its
    /// publisher is on that core.
    Everything,
}

/// The publications of the current read or mail drain held back, in
/// order.
#[derive(Default)]
pub struct Held {
    /// Set by the session driver while it routes a PUBLISH that more
    /// messages follow at once, and by the core while it routes a
    /// publication its mail brought.
    pub(crate) holding: Cell<Holding>,
    /// What is held, in the order it was routed.
    pub(crate) publications: RefCell<Vec<Arc<Publication>>>,
}

impl Held {
    /// Keeps `publication` for the group's pass when one is open and the
    /// publication may wait; else (or when the group is full) gives it
    /// back, to be delivered now after what is held.
    pub(crate) fn hold(&self, publication: &Arc<Publication>) -> bool {
        let may = match self.holding.get() {
            Holding::Nothing => false,
            Holding::ExcludingPublisher => publication.exclude_me,
            Holding::Everything => true,
        };
        if !may {
            return false;
        }
        let mut held = self.publications.borrow_mut();
        if held.len() >= MAX_HELD {
            return false;
        }
        held.push(publication.clone());
        true
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.publications.borrow().is_empty()
    }
}
