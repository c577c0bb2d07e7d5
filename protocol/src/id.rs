//! WAMP ids: integers in `[0, 2^53]`, so that every id survives a trip
//! through a JavaScript client's IEEE-754 double.
//!
//! The spec draws global and router-scope ids from `[1, 2^53]`; the value 0
//! still appears on the wire (a router-initiated UNSUBSCRIBED carries request
//! 0), so the types accept it and the router never issues it.

use std::fmt;

/// The largest id the spec allows: 2^53.
pub const MAX_ID: u64 = 1 << 53;

macro_rules! wamp_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(u64);

        impl $name {
            /// Wraps `value`, or `None` when it is above 2^53.
            pub const fn new(value: u64) -> Option<Self> {
                if value <= MAX_ID { Some(Self(value)) } else { None }
            }

            /// The id as a plain integer.
            pub const fn get(self) -> u64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

wamp_id!(
    /// A session's id: global scope, chosen by the router at WELCOME.
    SessionId
);
wamp_id!(
    /// A request's id: session scope, chosen by the peer that sends the request.
    RequestId
);
wamp_id!(
    /// A publication's id: global scope, chosen by the broker per PUBLISH.
    PublicationId
);
wamp_id!(
    /// A subscription's id: router scope, shared by all subscribers of one
    /// (topic, match policy).
    SubscriptionId
);
wamp_id!(
    /// A registration's id: router scope, one per (procedure, match policy).
    RegistrationId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_stop_at_two_to_the_53() {
        assert_eq!(RequestId::new(MAX_ID).map(RequestId::get), Some(MAX_ID));
        assert_eq!(RequestId::new(MAX_ID + 1), None);
        assert_eq!(SessionId::new(0).map(SessionId::get), Some(0));
    }
}
