//! HTTP/1.1 requests (RFC 9112), sans-IO: the server side of the web
//! service.
//!
//! ```text
//!  bytes ──► parse_head ──► RequestHead (method, target, fields, framing)
//!  bytes ──► BodyDecoder (Content-Length or chunked) ──► body bytes
//!  status + fields ──► write_head ──► bytes
//! ```
//!
//! The request line and fields are parsed by `httparse`; this module adds
//! what RFC 9112 asks of a server on top: the limits (414, 431, 413), the
//! message body length (§6.3: chunked, `Content-Length`, or none; both is
//! an error), `Expect: 100-continue`, and whether the connection persists
//! (§9.3). Every refusal is an [`HttpError`] that names its status.

mod body;
mod error;
mod limits;
mod request;
mod response;

pub use body::{BodyDecoder, BodyFraming};
pub use error::HttpError;
pub use limits::HttpLimits;
pub use request::{RequestHead, parse_head};
pub use response::{reason_phrase, write_error, write_head};
