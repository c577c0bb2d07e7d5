//! `publisher`: an HTTP POST of `{"topic", "args", "kwargs", "options"}`
//! becomes a publication of the service's session, answered with
//! `{"id": publication id}` once routed (Crossbar.io's publisher
//! publishes with `acknowledge`).

use std::rc::Rc;

use ringbar_protocol::options::PublishOptions;
use ringbar_protocol::str::Str;
use ringbar_protocol::value::{Dict, Value};

use super::rest::{self, Denial, ServiceSession};
use super::service::{HttpRequest, HttpResponse};
use crate::config::RestService;
use ringbar_router::authorize::Action;
use ringbar_router::core::Core;
use ringbar_router::core::broker;

/// The publish options Crossbar.io's publisher passes on; it ignores the
/// others.
const PASSED_OPTIONS: &[&str] = &[
    "forward_for",
    "retain",
    "exclude_me",
    "exclude_authid",
    "exclude_authrole",
    "exclude",
    "eligible_authid",
    "eligible_authrole",
    "eligible",
];

/// The answer of a `publisher` service to `request`.
pub(super) fn respond(
    core: &Rc<Core>,
    rest: &RestService,
    request: &HttpRequest<'_>,
) -> HttpResponse {
    publish(core, rest, request).unwrap_or_else(|answer| answer)
}

fn publish(
    core: &Rc<Core>,
    rest: &RestService,
    request: &HttpRequest<'_>,
) -> Result<HttpResponse, HttpResponse> {
    let mut body = rest::admit_json(&rest.options, request)?;
    let deny = |denial: Denial| denial.response(request);
    let topic = rest::take_uri(&mut body, "topic").map_err(deny)?;
    let payload = rest::take_arguments(&mut body).map_err(deny)?;
    let options = publish_options(body.remove("options")).map_err(deny)?;
    let session = ServiceSession::open(core, rest, request)?;
    if let Err((error, text)) = broker::check_topic(&session.realm, &topic) {
        return Ok(rest::router_error(error, text, request));
    }
    let (decision, _) = session.role.decide(Action::Publish, &topic);
    if !decision.allowed {
        return Ok(rest::not_authorized(
            &session,
            "publish to",
            &topic,
            request,
        ));
    }
    let id = broker::publish_as(
        core,
        &session.realm,
        &session.identity,
        Str::from(topic),
        payload,
        &options,
        decision.disclose.publisher,
    );
    let mut answer = Dict::new();
    answer.insert("id", Value::UInt(id.get()));
    Ok(rest::json_response(200, &Value::Dict(answer), request))
}

/// The body's `options`, as the publish options Crossbar.io passes on.
fn publish_options(options: Option<Value>) -> Result<PublishOptions, Denial> {
    let given = match options {
        Some(Value::Dict(given)) => given,
        Some(v) if rest::falsy(&v) => Dict::new(),
        None => Dict::new(),
        Some(other) => {
            return Err(Denial::malformed(&format!(
                "'options' must be a dict, not {}",
                other.type_name()
            )));
        }
    };
    let mut passed = Dict::new();
    for (name, value) in given.iter() {
        if PASSED_OPTIONS.contains(&name) && *value != Value::Null {
            passed.insert(name, value.clone());
        }
    }
    PublishOptions::from_dict(&passed).map_err(|e| Denial::malformed(&e.to_string()))
}
