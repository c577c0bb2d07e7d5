//! What a component does, by its `classname`: Crossbar.io's REST bridge
//! classes (both spellings) with their `extra`; any other class is a
//! Python component, which ringbar runs as a guest worker instead.

use std::time::Duration;

use ringbar_bridges::config::{
    ComponentKind, DEFAULT_MAX_QUEUED_EVENTS, DEFAULT_RETRIES, Forward, HttpLimits,
    MessageForwarder, RestCallee, parse_http_url, parse_method,
};
use ringbar_protocol::uri::{MatchPolicy, UriCheck, UriPattern};
use serde_json::Value;

use super::file::{ForwardFile, ForwarderExtraFile, RestCalleeExtraFile};
use crate::config::diag::{Diagnostics, Path};
use crate::config::read::{Accept, read, read_with};

/// The REST bridge classes, by their names in Crossbar.io (`bridge`) and
/// before (`adapter`).
const REST_CALLEE: [&str; 2] = [
    "crossbar.bridge.rest.RESTCallee",
    "crossbar.adapter.rest.RESTCallee",
];
const MESSAGE_FORWARDER: [&str; 2] = [
    "crossbar.bridge.rest.MessageForwarder",
    "crossbar.adapter.rest.MessageForwarder",
];

/// The largest `timeout_ms`: a day.
const MAX_TIMEOUT_MS: i64 = 86_400_000;
/// The largest `max_response_bytes` and `max_queued_events` accepted.
const MAX_LIMIT: i64 = 1 << 30;
/// The most `retries`.
const MAX_RETRIES: i64 = 100;

/// The component `classname` at `path` with its `extra`: what it does and
/// the name logs give it.
pub(super) fn kind(
    classname: &str,
    extra: Option<&Value>,
    path: &Path,
    diag: &mut Diagnostics,
) -> Option<(String, ComponentKind)> {
    let extra_path = path.key("extra");
    let missing = Value::Object(serde_json::Map::new());
    let extra = extra.unwrap_or(&missing);
    if REST_CALLEE.contains(&classname) {
        let file: RestCalleeExtraFile = read(extra, &extra_path, diag)?;
        let callee = rest_callee(file, &extra_path, diag)?;
        Some((
            format!("RESTCallee {}", callee.procedure),
            ComponentKind::RestCallee(callee),
        ))
    } else if MESSAGE_FORWARDER.contains(&classname) {
        let file: ForwarderExtraFile =
            read_with(extra, &extra_path, diag, Accept::silent(&["debug"]))?;
        let forwarder = message_forwarder(file, &extra_path, diag)?;
        let topics: Vec<&str> = forwarder
            .subscriptions
            .iter()
            .map(|f| f.topic.as_str())
            .collect();
        Some((
            format!("MessageForwarder {}", topics.join(", ")),
            ComponentKind::MessageForwarder(forwarder),
        ))
    } else {
        diag.error(
            &path.key("classname"),
            format!(
                "\"{classname}\" is a Python component, which ringbar does not load: ringbar runs {} and {} itself; run other components as a \"guest\" worker (a process that connects to a transport)",
                REST_CALLEE[0], MESSAGE_FORWARDER[0]
            ),
        );
        None
    }
}

fn rest_callee(
    file: RestCalleeExtraFile,
    path: &Path,
    diag: &mut Diagnostics,
) -> Option<RestCallee> {
    let errors = diag.error_count();
    uri(
        &file.procedure,
        MatchPolicy::Exact,
        &path.key("procedure"),
        diag,
    );
    let baseurl = parse_http_url(&file.baseurl)
        .map_err(|e| diag.error(&path.key("baseurl"), e))
        .ok();
    let http = limits(file.timeout_ms, file.max_response_bytes, path, diag);
    if diag.error_count() != errors {
        return None;
    }
    Some(RestCallee {
        procedure: file.procedure,
        baseurl: baseurl?,
        http: http?,
    })
}

fn message_forwarder(
    file: ForwarderExtraFile,
    path: &Path,
    diag: &mut Diagnostics,
) -> Option<MessageForwarder> {
    let errors = diag.error_count();
    let subscriptions: Vec<Forward> = file
        .subscriptions
        .iter()
        .enumerate()
        .filter_map(|(index, value)| forward(value, &path.key("subscriptions").index(index), diag))
        .collect();
    if file.subscriptions.is_empty() {
        diag.error(
            &path.key("subscriptions"),
            "no subscriptions: add {\"topic\": ..., \"url\": ...} for each topic to forward",
        );
    }
    let method = match &file.method {
        Some(method) => parse_method(method)
            .map_err(|e| diag.error(&path.key("method"), e))
            .ok(),
        None => Some(ringbar_bridges::config::Method::POST),
    };
    let expected_code = match file.expectedcode {
        None => None,
        Some(code @ 100..=599) => u16::try_from(code).ok(),
        Some(other) => {
            diag.error(
                &path.key("expectedcode"),
                format!("{other} is not an HTTP status code (100-599)"),
            );
            None
        }
    };
    let http = limits(file.timeout_ms, file.max_response_bytes, path, diag);
    let max_queued_events = bounded(
        file.max_queued_events,
        DEFAULT_MAX_QUEUED_EVENTS as i64,
        1..=MAX_LIMIT,
        &path.key("max_queued_events"),
        "events",
        diag,
    );
    let retries = bounded(
        file.retries,
        i64::from(DEFAULT_RETRIES),
        0..=MAX_RETRIES,
        &path.key("retries"),
        "retries",
        diag,
    );
    if diag.error_count() != errors {
        return None;
    }
    Some(MessageForwarder {
        subscriptions,
        method: method?,
        expected_code,
        http: http?,
        max_queued_events: usize::try_from(max_queued_events?).ok()?,
        retries: u32::try_from(retries?).ok()?,
    })
}

fn forward(value: &Value, path: &Path, diag: &mut Diagnostics) -> Option<Forward> {
    let file: ForwardFile = read(value, path, diag)?;
    let policy = match_policy(file.match_policy.as_deref(), &path.key("match"), diag)?;
    uri(&file.topic, policy, &path.key("topic"), diag)?;
    let url = parse_http_url(&file.url)
        .map_err(|e| diag.error(&path.key("url"), e))
        .ok()?;
    Some(Forward {
        topic: file.topic,
        match_policy: policy.to_string(),
        url,
    })
}

/// A subscription's `match` at `path`: `exact` when absent.
pub(super) fn match_policy(
    text: Option<&str>,
    path: &Path,
    diag: &mut Diagnostics,
) -> Option<MatchPolicy> {
    match text {
        None | Some("exact") => Some(MatchPolicy::Exact),
        Some("prefix") => Some(MatchPolicy::Prefix),
        Some("wildcard") => Some(MatchPolicy::Wildcard),
        Some(other) => {
            diag.error(
                path,
                format!("\"{other}\" is not a match policy (exact, prefix, wildcard)"),
            );
            None
        }
    }
}

/// Checks a topic or procedure by the loose rule (the realm checks its
/// own rule when the session registers or subscribes).
pub(super) fn uri(
    text: &str,
    policy: MatchPolicy,
    path: &Path,
    diag: &mut Diagnostics,
) -> Option<()> {
    match UriPattern::parse(text, policy, UriCheck::Loose) {
        Ok(_) => Some(()),
        Err(error) => {
            diag.error(
                path,
                format!("\"{text}\" is not a valid {policy} URI: {error}"),
            );
            None
        }
    }
}

fn limits(
    timeout_ms: Option<i64>,
    max_response_bytes: Option<i64>,
    path: &Path,
    diag: &mut Diagnostics,
) -> Option<HttpLimits> {
    let defaults = HttpLimits::default();
    let timeout = bounded(
        timeout_ms,
        i64::try_from(defaults.timeout.as_millis()).unwrap_or(i64::MAX),
        1..=MAX_TIMEOUT_MS,
        &path.key("timeout_ms"),
        "milliseconds",
        diag,
    );
    let max = bounded(
        max_response_bytes,
        i64::try_from(defaults.max_response_bytes).unwrap_or(i64::MAX),
        1..=MAX_LIMIT,
        &path.key("max_response_bytes"),
        "bytes",
        diag,
    );
    Some(HttpLimits {
        timeout: Duration::from_millis(u64::try_from(timeout?).ok()?),
        max_response_bytes: usize::try_from(max?).ok()?,
    })
}

/// `value` when in `range`, `default` when absent, else an error at `path`.
pub(super) fn bounded(
    value: Option<i64>,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
    path: &Path,
    unit: &str,
    diag: &mut Diagnostics,
) -> Option<i64> {
    match value {
        None => Some(default),
        Some(value) if range.contains(&value) => Some(value),
        Some(other) => {
            diag.error(
                path,
                format!(
                    "{other} is out of range ({}-{} {unit})",
                    range.start(),
                    range.end()
                ),
            );
            None
        }
    }
}
