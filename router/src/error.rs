//! The errors the router answers with, each named after its WAMP error URI
//! and mapped to it in one place ([`RoutingError::uri`]), so that no URI is
//! spelled twice and a typo cannot reach the wire; likewise the reasons it
//! closes sessions with ([`CloseReason::uri`]).

use std::fmt;

use ringbar_protocol::str::Str;
use ringbar_protocol::value::{Dict, Value};

routing_errors! {
    /// Why the router refuses a request, ends a call or refuses a session:
    /// the URI of its ERROR (or, while a session opens, of its ABORT).
    ///
    /// The WAMP spec's Basic Profile URIs come first, then the Advanced
    /// Profile's, then those Crossbar.io defines where the spec names none,
    /// then ringbar's own. What a callee or a dynamic authenticator answers
    /// is passed on as it is, not as one of these.
    RoutingError {
        /// A topic, procedure or realm URI is not a valid URI under the
        /// realm's URI check, or is in the router's reserved `wamp.`
        /// namespace.
        InvalidUri => "wamp.error.invalid_uri",
        /// A CALL names a procedure no callee has registered.
        NoSuchProcedure => "wamp.error.no_such_procedure",
        /// A REGISTER for a procedure that is already registered with
        /// `single` invocation, or that this session registered already.
        ProcedureAlreadyExists => "wamp.error.procedure_already_exists",
        /// An UNREGISTER (or a registration meta procedure) names a
        /// registration that is not active (for this session).
        NoSuchRegistration => "wamp.error.no_such_registration",
        /// An UNSUBSCRIBE (or a subscription meta procedure) names a
        /// subscription that is not active (for this session).
        NoSuchSubscription => "wamp.error.no_such_subscription",
        /// The arguments or options of a request the router handles itself
        /// (a meta procedure, a CANCEL's mode) are not acceptable.
        InvalidArgument => "wamp.error.invalid_argument",
        /// The peer broke the protocol (a message out of order, a malformed
        /// message): the ABORT's reason before the connection closes.
        ProtocolViolation => "wamp.error.protocol_violation",
        /// The session may not join, call, register, publish or subscribe:
        /// its role's permissions forbid it, or no authentication method it
        /// offered may be used.
        NotAuthorized => "wamp.error.not_authorized",
        /// The HELLO names a realm the router does not have (and the
        /// session may not create).
        NoSuchRealm => "wamp.error.no_such_realm",
        /// The session authenticated with a role its realm does not define:
        /// a misconfiguration of the router.
        NoSuchRole => "wamp.error.no_such_role",
        /// The client's proof (ticket, WAMP-CRA or cryptosign signature) was
        /// wrong.
        AuthenticationFailed => "wamp.error.authentication_failed",
        /// The call ended before its callee answered: the caller canceled
        /// it, the callee left, or its progressive results came faster than
        /// the caller read them.
        Canceled => "wamp.error.canceled",
        /// The call's `timeout` passed before its callee answered.
        Timeout => "wamp.error.timeout",
        /// The caller or the callee has as many calls in flight as the
        /// router allows, or the callee's queue is full: retry later.
        Unavailable => "wamp.error.unavailable",
        /// A CALL uses a feature (progressive call invocations) its callee
        /// did not announce.
        FeatureNotSupported => "wamp.error.feature_not_supported",
        /// A session meta procedure names a session not on the realm.
        NoSuchSession => "wamp.error.no_such_session",
        /// Crossbar.io's: no authentication method the client offered is
        /// configured on its transport.
        NoAuthMethod => "wamp.error.no_auth_method",
        /// Crossbar.io's: `wamp.subscription.get_events` for a subscription
        /// whose topic the realm keeps no event history of.
        HistoryUnavailable => "wamp.error.history_unavailable",
        /// Crossbar.io's: a REGISTER joins a registration that has another
        /// invocation policy.
        ProcedureExistsWithDifferentInvocationPolicy =>
            "wamp.error.procedure_exists_with_different_invocation_policy",
        /// ringbar's: a SUBSCRIBE past the session's
        /// `max_subscriptions_per_session`.
        TooManySubscriptions => "ringbar.error.too_many_subscriptions",
        /// ringbar's: a REGISTER past the session's
        /// `max_registrations_per_session`.
        TooManyRegistrations => "ringbar.error.too_many_registrations",
    }
}

routing_errors! {
    /// Why the router ends a session with GOODBYE: the reason URI of the
    /// GOODBYE it sends (a client's own reason is answered, not kept).
    CloseReason {
        /// The answer to a client's GOODBYE (spec: the router echoes
        /// this reason, never the client's).
        GoodbyeAndOut => "wamp.close.goodbye_and_out",
        /// The router is shutting down.
        SystemShutdown => "wamp.close.system_shutdown",
        /// A `wamp.session.kill*` meta call that gave no reason of its own.
        Normal => "wamp.close.normal",
    }
}

impl RoutingError {
    /// The error whose URI is `uri`, when it is one of the router's: a
    /// call the router made itself learns how it ended.
    pub fn from_uri(uri: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|error| error.uri() == uri)
    }
}

impl fmt::Display for RoutingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.uri())
    }
}

/// Declares the enum, its `ALL` and its `uri()` from one table, so that no
/// variant can miss its URI or its place in `ALL`.
macro_rules! routing_errors {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$doc:meta])* $variant:ident => $uri:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$doc])* $variant, )*
        }

        impl $name {
            /// Every error, in the order of the table.
            pub const ALL: &'static [$name] = &[$( Self::$variant, )*];

            /// The error URI, as on the wire.
            pub const fn uri(self) -> &'static str {
                match self {
                    $( Self::$variant => $uri, )*
                }
            }
        }
    };
}
use routing_errors;

/// Why a call the router made gave no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouterCallFailure {
    /// No session has registered the procedure.
    NoCallee,
    /// The callee answered ERROR `error` (or the dealer did in its name:
    /// `wamp.error.canceled` when it left, `wamp.error.timeout`,
    /// `wamp.error.unavailable`), with its first argument as `message`.
    Error {
        /// The ERROR's URI.
        error: Str,
        /// The ERROR's first positional argument, as text.
        message: Option<String>,
    },
}

/// The positional and keyword arguments of a RESULT.
pub type RouterCallResult = (Vec<Value>, Dict);

impl RouterCallFailure {
    /// A failure the router itself reports, as `error` with `message`.
    pub fn routing(error: RoutingError, message: &str) -> Self {
        Self::Error {
            error: Str::from_static(error.uri()),
            message: Some(message.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use ringbar_protocol::uri::{Uri, UriCheck};

    use super::*;

    #[test]
    fn every_uri_is_a_strict_uri_and_its_own() {
        let mut seen = HashSet::new();
        for &error in RoutingError::ALL {
            let uri = error.uri();
            assert_eq!(
                Uri::check(uri, UriCheck::Strict),
                Ok(()),
                "{error:?}: {uri}"
            );
            assert!(seen.insert(uri), "{uri} is the URI of two errors");
            assert_eq!(RoutingError::from_uri(uri), Some(error));
            assert_eq!(error.to_string(), uri);
        }
        assert_eq!(RoutingError::from_uri("com.example.refused"), None);
        for &reason in CloseReason::ALL {
            let uri = reason.uri();
            assert_eq!(Uri::check(uri, UriCheck::Strict), Ok(()), "{reason:?}");
            assert!(seen.insert(uri), "{uri} is the URI of two reasons");
        }
    }
}
