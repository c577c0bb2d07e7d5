//! The HTTP client a component sends with: one connection pool per
//! component (`reqwest`, kept-alive connections reused), TLS verified
//! against the Mozilla roots, every request bounded in time and every
//! response body in size.

use reqwest::header::HeaderMap;
use reqwest::{Client, RequestBuilder};

use crate::config::HttpLimits;

/// A component's HTTP client.
#[derive(Debug, Clone)]
pub(crate) struct HttpClient {
    client: Client,
    limits: HttpLimits,
}

/// An HTTP response, its body read whole.
#[derive(Debug)]
pub(crate) struct Response {
    /// The status code.
    pub(crate) status: u16,
    /// The header fields, in the order received.
    pub(crate) headers: HeaderMap,
    /// The body.
    pub(crate) body: Vec<u8>,
}

/// Why a request got no usable response.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    /// The service could not be reached, or broke the connection.
    #[error("{0}")]
    Unreachable(String),
    /// No complete response within the timeout.
    #[error("no response within {0} ms (extra.timeout_ms)")]
    Timeout(u128),
    /// The body is larger than allowed.
    #[error("the response body exceeds {0} bytes (extra.max_response_bytes)")]
    TooLarge(usize),
}

impl HttpClient {
    /// A client bounded by `limits`.
    pub(crate) fn new(limits: HttpLimits) -> Result<Self, String> {
        let client = Client::builder()
            .timeout(limits.timeout)
            .user_agent(concat!("ringbar/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {}", chain(&e)))?;
        Ok(HttpClient { client, limits })
    }

    /// A request builder on this client's pool.
    pub(crate) fn request(&self, method: reqwest::Method, url: reqwest::Url) -> RequestBuilder {
        self.client.request(method, url)
    }

    /// Sends `request` and reads its whole response, within the limits.
    pub(crate) async fn send(&self, request: RequestBuilder) -> Result<Response, HttpError> {
        let mut response = request.send().await.map_err(|e| self.failure(&e))?;
        let status = response.status().as_u16();
        let max = self.limits.max_response_bytes;
        if response
            .content_length()
            .is_some_and(|length| length > max as u64)
        {
            return Err(HttpError::TooLarge(max));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.failure(&e))? {
            if body.len() + chunk.len() > max {
                return Err(HttpError::TooLarge(max));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response {
            status,
            headers: std::mem::take(response.headers_mut()),
            body,
        })
    }

    fn failure(&self, error: &reqwest::Error) -> HttpError {
        if error.is_timeout() {
            HttpError::Timeout(self.limits.timeout.as_millis())
        } else {
            HttpError::Unreachable(chain(error))
        }
    }
}

/// An error and its causes, `: `-separated (reqwest's own text names only
/// the URL; the cause says what happened).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
