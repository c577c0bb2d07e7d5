//! What can go wrong between a client and a router, each case naming the
//! thing that failed.

use ringbar_protocol::value::Value;

/// A client failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL is not one this client can open.
    #[error("{url}: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// The router could not be reached, or the connection failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, with the address.
        what: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A `wss://` connection could not be secured: no usable roots, an
    /// unreadable CA file, a certificate the roots do not vouch for.
    #[error("TLS: {0}")]
    Tls(String),
    /// The router did not prove that it holds an Ed25519 key (it sent no
    /// or a wrong WAMP-cryptosign router signature).
    #[error("the router at {url} did not prove its key: {reason}")]
    RouterNotProven {
        /// The router's URL.
        url: String,
        /// What was missing or wrong.
        reason: String,
    },
    /// The router proved that it holds a key, but not the one expected.
    #[error("the router at {url} offered the key {offered}, not the expected {expected}")]
    RouterKeyMismatch {
        /// The router's URL.
        url: String,
        /// The expected public key, in hex.
        expected: String,
        /// The public key the router proved, in hex.
        offered: String,
    },
    /// The router broke the WebSocket or WAMP protocol, or sent something
    /// this client cannot read.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The router refused the session (ABORT), e.g. a failed
    /// authentication.
    #[error("the router refused to join realm '{realm}': {reason}{}", message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
    Refused {
        /// The realm asked for.
        realm: String,
        /// ABORT's reason URI.
        reason: String,
        /// ABORT's `details.message`, when sent.
        message: Option<String>,
    },
    /// A request was answered by an ERROR.
    #[error("{request} failed: {error}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Wamp {
        /// What was asked: `call 'PROCEDURE'`, `register 'PROCEDURE'`, ...
        request: String,
        /// The error URI.
        error: String,
        /// The first argument when it is a string (the usual message).
        message: Option<String>,
        /// All arguments.
        args: Vec<Value>,
    },
    /// Arguments that cannot be sent: values the serializer cannot carry
    /// (NaN in JSON), or JSON text that is not the list or dictionary the
    /// router would read.
    #[error("{0}")]
    Arguments(String),
    /// The router ended the session or closed the connection.
    #[error("the router closed the session{}", .0.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    Closed(Option<String>),
    /// More invocations and events arrived than the application read.
    #[error(
        "more than {0} invocations and events are waiting: the application does not call Session::next"
    )]
    Backlog(usize),
    /// The router did not answer in time.
    #[error("{0} timed out")]
    Timeout(String),
}

impl Error {
    /// The WAMP error URI of a [`Error::Wamp`] or the reason of a
    /// [`Error::Refused`]: what callers match on.
    pub fn uri(&self) -> Option<&str> {
        match self {
            Error::Wamp { error, .. } => Some(error),
            Error::Refused { reason, .. } => Some(reason),
            _ => None,
        }
    }
}
