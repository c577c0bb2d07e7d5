//! The WAMP meta API: the events the router publishes about sessions,
//! subscriptions and registrations ([`events`]), and the procedures it answers itself
//! ([`procedures`]), in the shapes of the WAMP spec's Session and
//! Subscription Meta API.

mod events;
mod procedures;
mod testament;

pub use events::{
    WAMP_PREFIX, registered, session_details, session_joined, session_left, subscribed,
    unregistered, unsubscribed,
};
pub use procedures::answer_call;
pub use testament::publish_testaments;
