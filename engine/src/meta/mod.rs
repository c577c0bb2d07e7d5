//! The WAMP meta API: the events the router publishes about sessions and
//! subscriptions ([`events`]), and the procedures it answers itself
//! ([`procedures`]), in the shapes of the WAMP spec's Session and
//! Subscription Meta API.

mod events;
mod procedures;

pub(crate) use events::{
    WAMP_PREFIX, session_details, session_joined, session_left, subscribed, unsubscribed,
};
pub(crate) use procedures::{MetaError, call};
