//! What a bridge worker runs, already checked: the node reads Crossbar.io's
//! `container` worker (or a router worker's `components`) into these, with
//! a JSON path for every error (`node/src/config/bridge`).

use std::time::Duration;

use ringbar_client::{Credentials, Url};

pub use reqwest::{Method, Url as HttpUrl};

pub use crate::srdp::config::{SrdpBridge, SrdpTransport};

/// One bridge worker: its components, each a WAMP session of its own.
#[derive(Debug, Clone)]
pub struct BridgeWorker {
    /// The worker's id in logs, `ringbar status` and `/metrics`.
    pub id: String,
    /// What it runs.
    pub components: Vec<Component>,
}

impl BridgeWorker {
    /// Whether it is a PostgreSQL bridge (a managed node logs its
    /// instance type).
    pub fn is_postgresql_bridge(&self) -> bool {
        self.components
            .iter()
            .any(|c| matches!(c.kind, ComponentKind::Postgresql(_)))
    }
}

/// One component: a session joined to `realm` doing one bridge's work.
#[derive(Debug, Clone)]
pub struct Component {
    /// How logs name it: its classname and what it serves.
    pub name: String,
    /// The realm it joins.
    pub realm: String,
    /// The router it joins: the node's worker socket, or a remote router.
    pub router: Url,
    /// How it authenticates.
    pub credentials: Credentials,
    /// What it does once joined.
    pub kind: ComponentKind,
}

/// The bridge a component runs.
#[derive(Debug, Clone)]
pub enum ComponentKind {
    /// `RESTCallee`: a WAMP procedure that makes an HTTP request.
    RestCallee(RestCallee),
    /// `MessageForwarder`: events POSTed to HTTP services.
    MessageForwarder(MessageForwarder),
    /// `srdp-bridge`: devices on an SRDP adapter as procedures and topics.
    Srdp(SrdpBridge),
    /// A `postgresql-bridge` worker's database work.
    Postgresql(Box<crate::postgresql::config::PostgresqlBridge>),
}

/// `crossbar.bridge.rest.RESTCallee`'s `extra`.
#[derive(Debug, Clone)]
pub struct RestCallee {
    /// `procedure`: the URI registered.
    pub procedure: String,
    /// `baseurl`: what each call's `url` is resolved against.
    pub baseurl: HttpUrl,
    /// The HTTP client's limits.
    pub http: HttpLimits,
}

/// `crossbar.bridge.rest.MessageForwarder`'s `extra`.
#[derive(Debug, Clone)]
pub struct MessageForwarder {
    /// `subscriptions`: which events go where.
    pub subscriptions: Vec<Forward>,
    /// `method`: the HTTP method (`POST` by default).
    pub method: Method,
    /// `expectedcode`: the status that means delivered; any 2xx when unset.
    pub expected_code: Option<u16>,
    /// The HTTP client's limits.
    pub http: HttpLimits,
    /// `max_queued_events` (ringbar): events each target may hold while its
    /// service is slow or down; more are dropped and counted.
    pub max_queued_events: usize,
    /// `retries` (ringbar): further attempts for an event whose request
    /// failed (no answer, or a 5xx).
    pub retries: u32,
}

/// One of a MessageForwarder's `subscriptions`.
#[derive(Debug, Clone)]
pub struct Forward {
    /// `topic`: the topic or pattern subscribed to.
    pub topic: String,
    /// `match`: `exact`, `prefix` or `wildcard`.
    pub match_policy: String,
    /// `url`: where each event is sent.
    pub url: HttpUrl,
}

/// Bounds of the HTTP requests a component makes (ringbar's; Crossbar.io
/// has neither).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// `timeout_ms`: how long a request may take, connecting included.
    pub timeout: Duration,
    /// `max_response_bytes`: the largest response body read.
    pub max_response_bytes: usize,
}

/// How long an HTTP request may take when `timeout_ms` is not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest response body read when `max_response_bytes` is not set.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Events a MessageForwarder target holds when `max_queued_events` is not
/// set.
pub const DEFAULT_MAX_QUEUED_EVENTS: usize = 1000;

/// Further attempts per event when `retries` is not set.
pub const DEFAULT_RETRIES: u32 = 3;

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            timeout: DEFAULT_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

/// Parses an `http://` or `https://` URL, saying what is wrong otherwise.
pub fn parse_http_url(text: &str) -> Result<HttpUrl, String> {
    let url = HttpUrl::parse(text).map_err(|e| format!("{text:?} is not a URL ({e})"))?;
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(url),
        _ => Err(format!(
            "{text:?} is not an http:// or https:// URL with a host (e.g. \"http://127.0.0.1:8000/\")"
        )),
    }
}

/// Parses an HTTP method name, as Crossbar.io's HTTP client takes it (in
/// any case).
pub fn parse_method(text: &str) -> Result<Method, String> {
    Method::from_bytes(text.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("{text:?} is not an HTTP method (e.g. \"POST\")"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn http_urls_and_methods_are_checked() {
        assert_eq!(
            parse_http_url("https://example.org/api/").unwrap().as_str(),
            "https://example.org/api/"
        );
        for bad in ["ftp://example.org/", "example.org", "http://", "unix:/x"] {
            assert!(parse_http_url(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_method("post").unwrap(), Method::POST);
        assert!(parse_method("PO ST").is_err());
    }
}
