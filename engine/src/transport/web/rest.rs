//! What the REST bridge's path services (`publisher`, `caller`, `webhook`)
//! share, as Crossbar.io's `_CommonResource` does it: the methods taken,
//! CORS, the checks of content type, charset, length, signature, peer
//! address and TLS in Crossbar.io's order, its status codes and JSON
//! denial bodies, and the session the service acts as.

use std::borrow::Cow;
use std::rc::Rc;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use ringbar_protocol::codec::{self, Serializer};
use ringbar_protocol::id::SessionId;
use ringbar_protocol::message::{Arguments, Payload};
use ringbar_protocol::str::Str;
use ringbar_protocol::value::{Dict, Value};
use ringbar_router::error::RoutingError;

use super::service::{HttpRequest, HttpResponse, cross_origin};
use super::signed::SignedParams;
use crate::config::{RestOptions, RestService};
use ringbar_router::authorize::Role;
use ringbar_router::core::Core;
use ringbar_router::core::realm::Realm;
use ringbar_router::core::session::Identity;
use ringbar_router::local::peer::Peer;

/// The authid of the session a REST service acts as (Crossbar.io's has
/// none; a callee that is disclosed the caller sees this one).
pub(super) const REST_AUTHID: &str = "rest-bridge";

/// A refused request: the status and the message of its JSON body.
#[derive(Debug)]
pub(super) struct Denial {
    pub(super) status: u16,
    message: Cow<'static, str>,
}

impl Denial {
    /// `status` with `message`, one of Crossbar.io's sentences.
    pub(super) fn new(status: u16, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// A signed request without a field it must have.
    pub(super) fn missing(reason: &str) -> Self {
        Self::new(
            400,
            format!("REST bridge signature was invalid (missing mandatory field - {reason})."),
        )
    }

    /// A signed request with a field that does not parse.
    pub(super) fn invalid(reason: &str) -> Self {
        Self::new(
            400,
            format!("REST bridge signature was invalid ({reason})."),
        )
    }

    /// A body that is JSON but not what the service takes.
    pub(super) fn malformed(reason: &str) -> Self {
        Self::new(
            400,
            format!("Request body was valid JSON, but not well formed ({reason})."),
        )
    }

    /// The response: Crossbar.io's `{"error": message, "args": [],
    /// "kwargs": {}}`.
    pub(super) fn response(&self, request: &HttpRequest<'_>) -> HttpResponse {
        let mut body = Dict::new();
        body.insert("error", self.message.as_ref());
        body.insert("args", Value::List(Vec::new()));
        body.insert("kwargs", Value::Dict(Dict::new()));
        json_response(self.status, &Value::Dict(body), request)
    }
}

/// Answers `request` with `value` as JSON and the fields every REST bridge
/// response has.
pub(super) fn json_response(status: u16, value: &Value, request: &HttpRequest<'_>) -> HttpResponse {
    let mut out = BytesMut::new();
    // The values are the router's own or decoded from JSON: they encode.
    let body = match codec::encode_value(Serializer::Json, value, &mut out) {
        Ok(()) => out.freeze(),
        Err(_) => Bytes::from_static(b"{}"),
    };
    common_fields(HttpResponse::new(status, CONTENT_TYPE, body), request)
}

/// Answers `request` with `body` as it is (a webhook's configured text),
/// with the fields every REST bridge response has.
pub(super) fn text_response(status: u16, body: Bytes, request: &HttpRequest<'_>) -> HttpResponse {
    common_fields(HttpResponse::new(status, CONTENT_TYPE, body), request)
}

/// A WAMP error as Crossbar.io returns it from a publish or call: 200
/// with `{"error", "args", "kwargs"}`.
pub(super) fn wamp_error(
    error: &str,
    args: Vec<Value>,
    kwargs: Dict,
    request: &HttpRequest<'_>,
) -> HttpResponse {
    let mut body = Dict::new();
    body.insert("error", error);
    body.insert("args", Value::List(args));
    body.insert("kwargs", Value::Dict(kwargs));
    json_response(200, &Value::Dict(body), request)
}

/// A WAMP error the router reports with one line of text.
pub(super) fn router_error(
    error: RoutingError,
    text: String,
    request: &HttpRequest<'_>,
) -> HttpResponse {
    wamp_error(error.uri(), vec![Value::Str(text)], Dict::new(), request)
}

/// The error of a session whose role may not `action` `uri`.
pub(super) fn not_authorized(
    session: &ServiceSession,
    action: &str,
    uri: &str,
    request: &HttpRequest<'_>,
) -> HttpResponse {
    let text = match session.role.authorizer() {
        Some(_) => format!(
            "role '{}' has a dynamic authorizer, which REST bridge services do not consult: give the service a role with static permissions",
            session.identity.authrole
        ),
        None => format!(
            "role '{}' may not {action} '{uri}'",
            session.identity.authrole
        ),
    };
    router_error(RoutingError::NotAuthorized, text, request)
}

/// Runs Crossbar.io's checks on `request`; the JSON object of its body.
/// `Err` is the answer: a refusal, or the reply to `OPTIONS`.
pub(super) fn admit_json(
    options: &RestOptions,
    request: &HttpRequest<'_>,
) -> Result<Dict, HttpResponse> {
    let text = screen(options, request, true, None)?;
    match codec::decode_value(Serializer::Json, text.as_bytes()) {
        Ok(Value::Dict(dict)) => Ok(dict),
        Ok(_) => Err(Denial::new(
            400,
            "Request body was valid JSON, but not well formed (must be a dict).",
        )
        .response(request)),
        Err(_) => Err(Denial::new(400, "Request body was invalid JSON.").response(request)),
    }
}

/// Runs Crossbar.io's checks on `request`, whose body may be any UTF-8
/// text (a webhook's), checking `X-Hub-Signature` with `github_secret`.
pub(super) fn admit_text<'a>(
    options: &RestOptions,
    request: &'a HttpRequest<'_>,
    github_secret: Option<&str>,
) -> Result<&'a str, HttpResponse> {
    screen(options, request, false, github_secret)
}

/// Takes the string `name` (`topic`, `procedure`) out of a request's body.
pub(super) fn take_uri(body: &mut Dict, name: &str) -> Result<String, Denial> {
    match body.remove(name) {
        Some(Value::Str(uri)) => Ok(uri),
        None => Err(Denial::malformed(&format!("missing key '{name}'"))),
        Some(other) => Err(Denial::malformed(&format!(
            "'{name}' must be a string, not {}",
            other.type_name()
        ))),
    }
}

/// Takes `args` and `kwargs` out of a request's body as a JSON payload.
/// As in Crossbar.io, an empty or false value is the same as none.
pub(super) fn take_arguments(body: &mut Dict) -> Result<Payload, Denial> {
    let args = match body.remove("args") {
        Some(Value::List(args)) => args,
        Some(v) if falsy(&v) => Vec::new(),
        Some(other) => {
            return Err(Denial::malformed(&format!(
                "'args' must be a list, not {}",
                other.type_name()
            )));
        }
        None => Vec::new(),
    };
    let kwargs = match body.remove("kwargs") {
        Some(Value::Dict(kwargs)) => kwargs,
        Some(v) if falsy(&v) => Dict::new(),
        Some(other) => {
            return Err(Denial::malformed(&format!(
                "'kwargs' must be a dict, not {}",
                other.type_name()
            )));
        }
        None => Dict::new(),
    };
    if args.is_empty() && kwargs.is_empty() {
        return Ok(Payload::Empty);
    }
    let mut out = BytesMut::new();
    let encoded =
        codec::encode_value(Serializer::Json, &Value::List(args), &mut out).and_then(|()| {
            let args = out.split().freeze();
            if kwargs.is_empty() {
                return Ok((args, None));
            }
            codec::encode_value(Serializer::Json, &Value::Dict(kwargs), &mut out)
                .map(|()| (args, Some(out.split().freeze())))
        });
    // Values decoded from JSON encode as JSON.
    let (args, kwargs) = encoded.map_err(|e| Denial::malformed(&e.to_string()))?;
    Ok(Payload::Arguments(Arguments {
        serializer: Serializer::Json,
        args,
        kwargs,
    }))
}

/// Whether Python takes `value` as false: Crossbar.io reads `args`,
/// `kwargs` and `options` only when they are true.
pub(super) fn falsy(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(false) | Value::UInt(0) => true,
        Value::Float(f) => *f == 0.0,
        Value::Str(s) => s.is_empty(),
        Value::Bytes(b) => b.is_empty(),
        Value::List(l) => l.is_empty(),
        Value::Dict(d) => d.is_empty(),
        _ => false,
    }
}

/// The session a REST service acts as for one request: its realm and role,
/// and a session id of its own, released when this is dropped.
pub(super) struct ServiceSession {
    core: Rc<Core>,
    pub(super) realm: Arc<Realm>,
    pub(super) role: Arc<Role>,
    pub(super) identity: Identity,
}

impl ServiceSession {
    /// The session of `rest`, or the answer when its realm or role is gone
    /// (a realm made from the template may not exist yet).
    pub(super) fn open(
        core: &Rc<Core>,
        rest: &RestService,
        request: &HttpRequest<'_>,
    ) -> Result<Self, HttpResponse> {
        let realm = core.shared.realms.get(&rest.realm).ok_or_else(|| {
            Denial::new(500, format!("no realm '{}' on this router", rest.realm)).response(request)
        })?;
        let role = realm.role(&rest.role).ok_or_else(|| {
            Denial::new(
                500,
                format!("no role '{}' on realm '{}'", rest.role, rest.realm),
            )
            .response(request)
        })?;
        let session: SessionId = core.shared.claim_session_id(&mut core.ids.borrow_mut());
        Ok(Self {
            core: core.clone(),
            realm,
            role,
            identity: Identity {
                session,
                authid: Str::from_static(REST_AUTHID),
                authrole: Str::from(rest.role.as_str()),
            },
        })
    }
}

impl Drop for ServiceSession {
    fn drop(&mut self) {
        self.core.shared.release_session_id(self.identity.session);
    }
}

/// The content type of every REST bridge response (Crossbar.io's spelling).
const CONTENT_TYPE: &str = "application/json; charset=UTF-8";

/// The content types a JSON service accepts (a missing one is fine).
const JSON_CONTENT_TYPE: &str = "application/json";

/// CORS, and no caching, as Crossbar.io sends on every response.
fn common_fields(response: HttpResponse, request: &HttpRequest<'_>) -> HttpResponse {
    cross_origin(response, request).with(
        "Cache-Control",
        "no-store,no-cache,must-revalidate,max-age=0",
    )
}

/// Crossbar.io's checks in its order, up to the body as text.
fn screen<'a>(
    options: &RestOptions,
    request: &'a HttpRequest<'_>,
    json: bool,
    github_secret: Option<&str>,
) -> Result<&'a str, HttpResponse> {
    let deny = |denial: Denial| {
        if options.debug {
            tracing::info!(peer = %request.peer, status = denial.status, reason = %denial.message, "REST bridge request refused");
        }
        denial.response(request)
    };
    match request.head.method() {
        "POST" | "PUT" => {}
        "OPTIONS" => {
            return Err(text_response(200, Bytes::new(), request)
                .with("Allow", "POST,PUT,OPTIONS")
                .with("Access-Control-Allow-Methods", "POST,PUT,OPTIONS"));
        }
        other => {
            return Err(deny(Denial::new(
                405,
                format!(
                    "Method not accepted by the REST bridge. (b'{other}' not allowed, only POST, PUT)"
                ),
            )));
        }
    }
    check_head(options, request, json).map_err(deny)?;
    if let Some(secret) = github_secret
        && !super::webhook::github_signature_valid(request, secret)
    {
        return Err(deny(Denial::new(
            400,
            "Malformed request to the REST bridge.",
        )));
    }
    SignedParams::parse(request.head.query().unwrap_or(""))
        .check(options, &request.body)
        .map_err(deny)?;
    if !options.require_ip.is_empty() {
        let allowed = match request.peer {
            Peer::Tcp(address) => options.require_ip.iter().any(|n| n.contains(address.ip())),
            Peer::Unix => false,
        };
        if !allowed {
            return Err(deny(Denial::new(
                400,
                "Request denied based on IP address.",
            )));
        }
    }
    if options.require_tls && !request.tls {
        return Err(deny(Denial::new(
            400,
            "Malformed request to the REST bridge.",
        )));
    }
    std::str::from_utf8(&request.body).map_err(|_| {
        deny(Denial::new(
            400,
            "Non-decodable request body, was not UTF-8.",
        ))
    })
}

/// Content type, charset and length.
fn check_head(options: &RestOptions, request: &HttpRequest<'_>, json: bool) -> Result<(), Denial> {
    let content_type = request.head.field("Content-Type").unwrap_or("");
    let mut elements = content_type
        .split(';')
        .map(|e| e.trim())
        .filter(|_| !content_type.is_empty());
    if let Some(media_type) = elements.next()
        && json
        && !media_type.eq_ignore_ascii_case(JSON_CONTENT_TYPE)
    {
        return Err(Denial::new(
            400,
            format!(
                "Non-accepted content type. (must be one of '[b'{JSON_CONTENT_TYPE}']', not 'b'{}'')",
                media_type.to_ascii_lowercase()
            ),
        ));
    }
    let mut charset = None;
    let mut names: Vec<String> = Vec::new();
    let parameters = content_type.split(';').filter(|e| e.contains('='));
    for element in parameters.filter(|_| content_type.contains(';')) {
        let mut parts = element.split('=');
        let (Some(name), Some(value), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(encoding());
        };
        let name = name.trim().to_ascii_lowercase();
        if names.contains(&name) {
            return Err(encoding());
        }
        if name == "charset" {
            charset = Some(value.trim().to_ascii_lowercase());
        }
        names.push(name);
    }
    if !matches!(charset.as_deref(), None | Some("utf-8" | "utf8")) {
        return Err(encoding());
    }
    let lengths = request
        .head
        .fields()
        .filter(|(name, _)| name.eq_ignore_ascii_case("Content-Length"))
        .count();
    if lengths > 1 {
        return Err(Denial::new(
            400,
            "Multiple versions of the same header is not allowed.",
        ));
    }
    let length = request.body.len();
    if options.post_body_limit_bytes > 0 && length > options.post_body_limit_bytes {
        return Err(Denial::new(
            413,
            format!(
                "Request too long. ({length} is longer than accepted {})",
                options.post_body_limit_bytes
            ),
        ));
    }
    Ok(())
}

/// A charset other than UTF-8, or parameters that do not parse.
fn encoding() -> Denial {
    Denial::new(400, "Non-accepted request encoding, must be UTF-8.")
}
