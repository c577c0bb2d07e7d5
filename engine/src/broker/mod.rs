//! The broker: subscriptions, publications, and fan-out to subscribers on
//! every core.

mod publication;
mod pubsub;

pub(crate) use ringbar_router::local::subscribers::Added;

/// A subscriber on this core, as delivery reaches it (with its wire).
pub(crate) type LocalSubscriber =
    ringbar_router::local::subscribers::LocalSubscriber<crate::wire::Wire>;
/// Who subscribes to what on this core.
pub(crate) type LocalSubscribers =
    ringbar_router::local::subscribers::LocalSubscribers<crate::wire::Wire>;
pub(crate) use publication::{Publication, Receivers};
pub(crate) use pubsub::{
    check_topic, deliver, publish, publish_as, publish_meta, publish_testament, remove_session,
    subscribe, unsubscribe,
};
