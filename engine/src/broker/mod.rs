//! The broker: subscriptions, publications, and fan-out to subscribers on
//! every core.

mod local_subscribers;
mod publication;
mod pubsub;

pub(crate) use local_subscribers::{Added, LocalSubscriber, LocalSubscribers};
pub(crate) use publication::{Publication, Receivers};
pub(crate) use pubsub::{
    check_topic, deliver, publish, publish_as, publish_meta, publish_testament, remove_session,
    subscribe, unsubscribe,
};
