//! `caller`: an HTTP POST of `{"procedure", "args", "kwargs"}` becomes a
//! call of the service's session; the result, or the WAMP error, is the
//! response body, shaped as Crossbar.io shapes it. A ringbar addition:
//! `"timeout"` (ms) in the body, or the service's `timeout`, so a request
//! never waits forever.

use std::rc::Rc;
use std::time::Duration;

use ringbar_protocol::message::Payload;
use ringbar_protocol::uri::Uri;
use ringbar_protocol::value::{Dict, Value};
use ringbar_router::error::{RouterCallFailure, RoutingError};

use super::rest::{self, Denial, ServiceSession};
use super::service::{HttpRequest, HttpResponse};
use crate::config::RestService;
use ringbar_router::authorize::Action;
use ringbar_router::core::Core;
use ringbar_router::core::dealer::{self, RouterAnswer, RouterCaller};
use ringbar_router::core::realm::Realm;
use ringbar_router::core::session::decode_arguments;

/// The answer of a `caller` service to `request`.
pub(super) async fn respond(
    core: &Rc<Core>,
    rest: &RestService,
    request: &HttpRequest<'_>,
) -> HttpResponse {
    call(core, rest, request)
        .await
        .unwrap_or_else(|answer| answer)
}

async fn call(
    core: &Rc<Core>,
    rest: &RestService,
    request: &HttpRequest<'_>,
) -> Result<HttpResponse, HttpResponse> {
    let mut body = rest::admit_json(&rest.options, request)?;
    let deny = |denial: Denial| denial.response(request);
    let procedure = rest::take_uri(&mut body, "procedure").map_err(deny)?;
    let max_ms = core.shared.limits.max_rest_call_timeout_ms;
    let timeout_ms = match body.remove("timeout") {
        None | Some(Value::Null) => rest.call_timeout_ms,
        Some(Value::UInt(ms)) if (1..=max_ms).contains(&ms) => ms,
        Some(other) => {
            return Err(deny(Denial::malformed(&format!(
                "'timeout' must be a number of milliseconds (1-{max_ms}), not {other:?}"
            ))));
        }
    };
    let payload = rest::take_arguments(&mut body).map_err(deny)?;
    let session = ServiceSession::open(core, rest, request)?;
    if let Err(e) = Uri::check(&procedure, session.realm.uri_check) {
        return Ok(rest::router_error(
            RoutingError::InvalidUri,
            format!("invalid procedure '{procedure}': {e}"),
            request,
        ));
    }
    let (decision, _) = session.role.decide(Action::Call, &procedure);
    if !decision.allowed {
        return Ok(rest::not_authorized(&session, "call", &procedure, request));
    }
    let caller = RouterCaller {
        session: session.identity.session,
        disclosed: Some((&session.identity, decision.disclose.caller)),
    };
    let answer = call_with_payload(
        core,
        &session.realm,
        caller,
        &procedure,
        payload,
        Duration::from_millis(timeout_ms),
    )
    .await;
    Ok(match answer {
        Ok(Ok(result)) => match decode_arguments(&result) {
            Ok((args, kwargs)) => rest::json_response(200, &result_body(args, kwargs), request),
            Err(why) => undecodable(&procedure, &why, request),
        },
        Ok(Err((error, payload))) => match decode_arguments(&payload) {
            Ok((args, kwargs)) => rest::wamp_error(error.as_str(), args, kwargs, request),
            Err(why) => undecodable(&procedure, &why, request),
        },
        Err(RouterCallFailure::NoCallee) => rest::router_error(
            RoutingError::NoSuchProcedure,
            format!("no callee registered procedure '{procedure}'"),
            request,
        ),
        Err(RouterCallFailure::Error { error, message }) => rest::wamp_error(
            error.as_str(),
            message.map(Value::Str).into_iter().collect(),
            Dict::new(),
            request,
        ),
    })
}

/// A RESULT as Autobahn|Python hands it to Crossbar.io's caller: one
/// value (or none) is `{"args": [value]}`; several, or keyword results,
/// are `{"args", "kwargs"}` with the empty ones left out.
fn result_body(mut args: Vec<Value>, kwargs: Dict) -> Value {
    let mut body = Dict::new();
    if kwargs.is_empty() {
        if args.is_empty() {
            args.push(Value::Null);
        }
        body.insert("args", Value::List(args));
        return Value::Dict(body);
    }
    if !args.is_empty() {
        body.insert("args", Value::List(args));
    }
    body.insert("kwargs", Value::Dict(kwargs));
    Value::Dict(body)
}

/// A callee's answer that cannot be shown as JSON (a passthru payload).
fn undecodable(procedure: &str, why: &str, request: &HttpRequest<'_>) -> HttpResponse {
    Denial::new(
        500,
        format!("the answer of '{procedure}' cannot be shown as JSON: {why}"),
    )
    .response(request)
}

/// Calls `procedure` on `realm` as `caller` with `payload`, and waits for
/// the RESULT's payload or the ERROR, at most `timeout`; other requests
/// and sessions of the core go on meanwhile. `Err` when the call could
/// not be made.
async fn call_with_payload(
    core: &Rc<Core>,
    realm: &Realm,
    caller: RouterCaller<'_>,
    procedure: &str,
    payload: Payload,
    timeout: Duration,
) -> Result<RouterAnswer, RouterCallFailure> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let on_answer = Box::new(move |answer| {
        // The request may have been given up (its client went away).
        let _ = tx.send(answer);
    });
    dealer::start_router_call(core, realm, caller, procedure, payload, timeout, on_answer)?;
    rx.await.map_err(|_| {
        RouterCallFailure::routing(
            RoutingError::Canceled,
            "the router stopped before the call was answered",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_shaped_as_crossbar_shapes_them() {
        let shape = |args: Vec<Value>, kwargs: Dict| {
            let mut out = bytes::BytesMut::new();
            ringbar_protocol::codec::encode_value(
                ringbar_protocol::codec::Serializer::Json,
                &result_body(args, kwargs),
                &mut out,
            )
            .unwrap();
            String::from_utf8(out.to_vec()).unwrap()
        };
        let mut kw = Dict::new();
        kw.insert("a", 1u64);
        assert_eq!(shape(vec![], Dict::new()), r#"{"args":[null]}"#);
        assert_eq!(shape(vec![Value::UInt(3)], Dict::new()), r#"{"args":[3]}"#);
        assert_eq!(
            shape(vec![Value::UInt(1), Value::UInt(2)], Dict::new()),
            r#"{"args":[1,2]}"#
        );
        assert_eq!(shape(vec![], kw.clone()), r#"{"kwargs":{"a":1}}"#);
        assert_eq!(
            shape(vec![Value::UInt(1)], kw),
            r#"{"args":[1],"kwargs":{"a":1}}"#
        );
    }
}
