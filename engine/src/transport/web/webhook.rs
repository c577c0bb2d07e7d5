//! `webhook`: any HTTP POST (a GitHub or other service's webhook) becomes
//! one event on the configured topic: `{"headers": {name: [values]},
//! "body": text}`, answered 202 with `success_response` or 500 with
//! `error_response`. With `github_secret`, `X-Hub-Signature` must be the
//! body's HMAC-SHA1 (`sha1=` and hex), as GitHub signs.

use std::rc::Rc;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use ringbar_protocol::codec::Serializer;
use ringbar_protocol::message::Payload;
use ringbar_protocol::options::PublishOptions;
use ringbar_protocol::str::Str;
use ringbar_protocol::value::{Dict, Value};
use ringbar_router::error::RoutingError;
use sha1::Sha1;
use subtle::ConstantTimeEq;

use super::rest::{self, ServiceSession};
use super::service::{HttpRequest, HttpResponse};
use crate::config::WebhookService;
use ringbar_router::authorize::Action;
use ringbar_router::core::Core;
use ringbar_router::core::broker;

/// The answer of a `webhook` service to `request`.
pub(super) fn respond(
    core: &Rc<Core>,
    hook: &WebhookService,
    request: &HttpRequest<'_>,
) -> HttpResponse {
    let text = match rest::admit_text(&hook.rest.options, request, hook.github_secret.as_deref()) {
        Ok(text) => text,
        Err(answer) => return answer,
    };
    let session = match ServiceSession::open(core, &hook.rest, request) {
        Ok(session) => session,
        Err(answer) => return answer,
    };
    match publish(core, hook, &session, text, request) {
        Ok(()) => rest::text_response(202, Bytes::from(hook.success_response.clone()), request),
        Err(why) => {
            tracing::warn!(
                peer = %request.peer,
                topic = %hook.topic,
                realm = %hook.rest.realm,
                role = %hook.rest.role,
                error = %why,
                "webhook not published"
            );
            rest::text_response(500, Bytes::from(hook.error_response.clone()), request)
        }
    }
}

/// Whether `request` carries GitHub's signature of its body with `secret`.
pub(super) fn github_signature_valid(request: &HttpRequest<'_>, secret: &str) -> bool {
    let Some(given) = request.head.field("X-Hub-Signature") else {
        return false;
    };
    // HMAC takes keys of any length: this never fails.
    let Ok(mut mac) = <Hmac<Sha1> as Mac>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(&request.body);
    let expected = format!("sha1={}", hex::encode(mac.finalize().into_bytes()));
    let given = given.to_ascii_lowercase();
    given.len() == expected.len() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// Publishes the event of `request` with body `text`; why not, if not.
fn publish(
    core: &Core,
    hook: &WebhookService,
    session: &ServiceSession,
    text: &str,
    request: &HttpRequest<'_>,
) -> Result<(), String> {
    broker::check_topic(&session.realm, &hook.topic)
        .map_err(|(error, text)| format!("{error}: {text}"))?;
    let (decision, _) = session.role.decide(Action::Publish, &hook.topic);
    if !decision.allowed {
        return Err(format!(
            "{}: role '{}' may not publish to '{}'",
            RoutingError::NotAuthorized,
            hook.rest.role,
            hook.topic
        ));
    }
    let mut event = Dict::new();
    event.insert("headers", Value::Dict(headers(request)));
    event.insert("body", text);
    let payload = Payload::from_values(Serializer::Json, &[Value::Dict(event)], None)
        .map_err(|e| e.to_string())?;
    let options = PublishOptions::from_dict(&Dict::new()).map_err(|e| e.to_string())?;
    broker::publish_as(
        core,
        &session.realm,
        &session.identity,
        Str::from(hook.topic.as_str()),
        payload,
        &options,
        decision.disclose.publisher,
    );
    Ok(())
}

/// The request's fields as Twisted hands them to Crossbar.io: names in
/// canonical capitals, each with its values in order.
fn headers(request: &HttpRequest<'_>) -> Dict {
    let mut names: Vec<(String, Vec<Value>)> = Vec::new();
    for (name, value) in request.head.fields() {
        let name = canonical_name(name);
        let value = Value::Str(value.to_owned());
        match names.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(value),
            None => names.push((name, vec![value])),
        }
    }
    let mut headers = Dict::new();
    for (name, values) in names {
        headers.insert(name, Value::List(values));
    }
    headers
}

/// Twisted's capitalization of a field name: each `-`-separated word
/// capitalized, with its list of exceptions.
fn canonical_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, word) in name.split('-').enumerate() {
        if i > 0 {
            out.push('-');
        }
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars.map(|c| c.to_ascii_lowercase()));
        }
    }
    let exception = match out.as_str() {
        "Content-Md5" => "Content-MD5",
        "Dnt" => "DNT",
        "Etag" => "ETag",
        "P3p" => "P3P",
        "Te" => "TE",
        "Www-Authenticate" => "WWW-Authenticate",
        "X-Xss-Protection" => "X-XSS-Protection",
        _ => return out,
    };
    exception.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_are_capitalized_as_twisted_does() {
        assert_eq!(canonical_name("content-type"), "Content-Type");
        assert_eq!(canonical_name("X-HUB-SIGNATURE"), "X-Hub-Signature");
        assert_eq!(canonical_name("dnt"), "DNT");
        assert_eq!(canonical_name("host"), "Host");
    }
}
