//! The broker: subscriptions, publications, and fan-out to subscribers on
//! every core.

mod held;
mod publication;
mod pubsub;

pub use crate::local::subscribers::Added;

/// A subscriber on this core, as delivery reaches it (with its wire).
pub type LocalSubscriber = crate::local::subscribers::LocalSubscriber<crate::wire::Wire>;
/// Who subscribes to what on this core.
pub type LocalSubscribers = crate::local::subscribers::LocalSubscribers<crate::wire::Wire>;
pub use held::Held;
pub(crate) use held::Holding;
pub use publication::{Publication, Receivers};
pub use pubsub::{
    check_topic, deliver, deliver_held, deliver_or_hold, publish, publish_as, publish_meta,
    publish_testament, remove_session, subscribe, unsubscribe,
};
