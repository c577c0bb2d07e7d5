//! The seam between the connection and the path services: a parsed
//! request with its whole body goes in, a response comes out. A new kind
//! of path service (the REST bridge's publisher, caller, webhook) is one
//! more arm here and a file of its own; the connection code does not
//! change.

use bytes::Bytes;
use ringbar_protocol::http::RequestHead;

use std::rc::Rc;

use super::{caller, embedded, nodeinfo, publisher, static_files, webhook};
use crate::config::{JsonService, WebService};
use ringbar_router::core::Core;
use ringbar_router::local::peer::Peer;

/// A request as a path service sees it.
pub(crate) struct HttpRequest<'a> {
    /// Method, target, fields.
    pub(crate) head: &'a RequestHead,
    /// The whole body, decoded (empty for most GETs).
    pub(crate) body: Bytes,
    /// The path below the service's mount, without its leading `/`.
    pub(crate) rest: &'a str,
    /// Who sent it.
    pub(crate) peer: &'a Peer,
    /// Whether it came over TLS.
    pub(crate) tls: bool,
}

/// A path service's answer. The connection adds the fields every response
/// has (`Date`, `Server`, `Content-Length`, `Connection`).
pub(crate) struct HttpResponse {
    /// The status code.
    pub(crate) status: u16,
    /// The service's own fields. Values are built from config and numbers,
    /// or are request values that `httparse` already checked (no CR/LF).
    pub(crate) fields: Vec<(&'static str, String)>,
    /// The content.
    pub(crate) body: ResponseBody,
}

/// The content of a response.
pub(crate) enum ResponseBody {
    /// Bytes in memory.
    Bytes(Bytes),
    /// A file of this many bytes, streamed in bounded chunks.
    File(std::fs::File, u64),
}

impl HttpResponse {
    /// `status` with `content_type` and `body`.
    pub(crate) fn new(status: u16, content_type: &str, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            fields: vec![("Content-Type", content_type.to_owned())],
            body: ResponseBody::Bytes(body.into()),
        }
    }

    /// An error status with `message` as a line of plain text.
    pub(crate) fn error(status: u16, message: &str) -> Self {
        Self::new(status, "text/plain; charset=utf-8", format!("{message}\n"))
    }

    /// Adds a field.
    pub(crate) fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.fields.push((name, value.into()));
        self
    }
}

/// Whether `service` takes requests with `method`: asked before reading a
/// body whose client waits for `100 Continue`.
pub(super) fn allows(service: &WebService, method: &str) -> bool {
    match service {
        WebService::WebSocket(_) | WebService::Path(_) => false,
        WebService::Static(_)
        | WebService::NodeInfo
        | WebService::Json(_)
        | WebService::Embedded(_)
        | WebService::Redirect { .. } => matches!(method, "GET" | "HEAD"),
        WebService::Publisher(_) | WebService::Caller(_) | WebService::Webhook(_) => {
            matches!(method, "POST" | "PUT" | "OPTIONS")
        }
    }
}

/// The answer of `service` to `request`.
pub(super) async fn respond(
    core: &Rc<Core>,
    service: &WebService,
    request: &HttpRequest<'_>,
) -> HttpResponse {
    match service {
        WebService::WebSocket(_) => HttpResponse::error(
            426,
            "this path serves WAMP over WebSocket; send an Upgrade request",
        )
        .with("Upgrade", "websocket"),
        // A nested `path` only routes; `route::find` never ends on one.
        WebService::Path(_) => HttpResponse::error(404, "no service on this path"),
        // They answer other methods themselves, as Crossbar.io does.
        WebService::Publisher(rest) => publisher::respond(core, rest, request),
        WebService::Caller(rest) => caller::respond(core, rest, request).await,
        WebService::Webhook(hook) => webhook::respond(core, hook, request),
        _ if !allows(service, request.head.method()) => {
            HttpResponse::error(405, "this path serves GET and HEAD").with("Allow", "GET, HEAD")
        }
        WebService::Static(config) => static_files::respond(config, request),
        WebService::NodeInfo => nodeinfo::respond(core),
        WebService::Embedded(files) => embedded::respond(files, request),
        WebService::Json(json) => json_document(json, request),
        WebService::Redirect { url } => HttpResponse::new(
            302,
            "text/plain; charset=utf-8",
            format!("redirecting to {url}\n"),
        )
        .with("Location", url.clone()),
    }
}

/// A `json` service's document.
fn json_document(json: &JsonService, request: &HttpRequest<'_>) -> HttpResponse {
    let mut response = HttpResponse::new(
        200,
        "application/json; charset=utf-8",
        json.document.clone(),
    );
    if json.allow_cross_origin {
        response = cross_origin(response, request);
    }
    if json.discourage_caching {
        response = response.with(
            "Cache-Control",
            "no-store, no-cache, must-revalidate, max-age=0",
        );
    }
    response
}

/// The CORS fields Crossbar.io's web services send: the request's origin
/// (or `*`) may read the response, with credentials.
pub(super) fn cross_origin(response: HttpResponse, request: &HttpRequest<'_>) -> HttpResponse {
    let origin = match request.head.field("Origin") {
        None | Some("null") => "*",
        Some(origin) => origin,
    };
    let mut response = response
        .with("Access-Control-Allow-Origin", origin)
        .with("Access-Control-Allow-Credentials", "true");
    if let Some(headers) = request.head.field("Access-Control-Request-Headers") {
        response = response.with("Access-Control-Allow-Headers", headers);
    }
    response
}
