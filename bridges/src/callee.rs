//! `RESTCallee`: a WAMP procedure whose calls become HTTP requests. A
//! call's arguments are Crossbar.io's (`method`, `url`, `body`, `headers`,
//! `params`, by keyword or in that order); its result is Crossbar.io's
//! `{"code", "content", "headers"}`.

use std::sync::Arc;

use reqwest::header::HeaderMap;
use ringbar_client::{Dict, Invocation, Value};
use ringbar_router::error::RoutingError;

use crate::config::{HttpUrl, Method, RestCallee, parse_method};
use crate::figures::{Figures, bump};
use crate::http::{HttpClient, Response};

/// The error a call gets when its arguments are not RESTCallee's.
pub(crate) const INVALID_ARGUMENT: &str = RoutingError::InvalidArgument.uri();

/// The error a call gets when the HTTP request fails (Autobahn's URI for an
/// exception in a procedure, which is what Crossbar.io's callee sends).
pub(crate) const RUNTIME_ERROR: &str = "wamp.error.runtime_error";

/// The parameters, in the order Crossbar.io's procedure takes them.
const PARAMETERS: [&str; 5] = ["method", "url", "body", "headers", "params"];

/// One call's HTTP request.
#[derive(Debug, PartialEq)]
pub(crate) struct CallRequest {
    /// `method`.
    pub(crate) method: Method,
    /// `url` resolved against `baseurl`.
    pub(crate) url: HttpUrl,
    /// `body`, sent as UTF-8.
    pub(crate) body: String,
    /// `headers`: `{name: [values]}` (a lone string is one value).
    pub(crate) headers: Vec<(String, String)>,
    /// `params`: query parameters added to the URL.
    pub(crate) params: Vec<(String, String)>,
}

/// The answer to one invocation: the result, or an error URI and message.
pub(crate) type Outcome = Result<Value, (&'static str, String)>;

/// Answers `invocation` of `callee`: makes its HTTP request.
pub(crate) async fn serve(
    callee: &RestCallee,
    http: &HttpClient,
    invocation: &Invocation,
    figures: &Arc<Figures>,
) -> Outcome {
    let request =
        CallRequest::from_arguments(&callee.baseurl, &invocation.args, &invocation.kwargs)
            .map_err(|message| (INVALID_ARGUMENT, message));
    let outcome = match request {
        Ok(request) => {
            let what = format!("{} {}", request.method, request.url);
            let mut builder = http
                .request(request.method, request.url)
                .query(&request.params)
                .body(request.body);
            for (name, value) in &request.headers {
                builder = builder.header(name, value);
            }
            match http.send(builder).await {
                Ok(response) => Ok(result(&response)),
                Err(error) => Err((RUNTIME_ERROR, format!("{what}: {error}"))),
            }
        }
        Err(error) => Err(error),
    };
    bump(if outcome.is_ok() {
        &figures.calls
    } else {
        &figures.call_errors
    });
    outcome
}

impl CallRequest {
    /// The request of a call with `args` and `kwargs` against `baseurl`.
    pub(crate) fn from_arguments(
        baseurl: &HttpUrl,
        args: &[Value],
        kwargs: &Dict,
    ) -> Result<Self, String> {
        if args.len() > PARAMETERS.len() {
            return Err(format!(
                "RESTCallee takes at most {} arguments ({}), got {}",
                PARAMETERS.len(),
                PARAMETERS.join(", "),
                args.len()
            ));
        }
        let mut given: [Option<&Value>; 5] = [None; 5];
        for (slot, value) in given.iter_mut().zip(args) {
            *slot = Some(value);
        }
        for (key, value) in kwargs.iter() {
            let Some(index) = PARAMETERS.iter().position(|p| *p == key) else {
                return Err(format!(
                    "RESTCallee has no argument {key:?} (it takes {})",
                    PARAMETERS.join(", ")
                ));
            };
            if given[index].replace(value).is_some() {
                return Err(format!("RESTCallee got {key:?} twice"));
            }
        }
        let [method, url, body, headers, params] = given;
        let method = match method {
            Some(Value::Str(text)) => parse_method(text)?,
            Some(other) => return Err(not_a("method", "a string such as \"GET\"", other)),
            None => return Err("RESTCallee needs \"method\" (e.g. \"GET\")".to_owned()),
        };
        let url = match url {
            None | Some(Value::Null) => baseurl.clone(),
            Some(Value::Str(url)) => baseurl
                .join(url)
                .map_err(|e| format!("\"url\" {url:?} does not resolve against {baseurl}: {e}"))?,
            Some(other) => return Err(not_a("url", "a string", other)),
        };
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "\"url\" resolves to {url}, not an http:// or https:// URL"
            ));
        }
        let body = match body {
            None | Some(Value::Null) => String::new(),
            Some(Value::Str(body)) => body.clone(),
            Some(other) => return Err(not_a("body", "a string", other)),
        };
        Ok(CallRequest {
            method,
            url,
            body,
            headers: headers_of(headers)?,
            params: params_of(params)?,
        })
    }
}

/// `headers`: `{name: [values]}` as Crossbar.io takes them (a string value
/// is taken as one value).
fn headers_of(headers: Option<&Value>) -> Result<Vec<(String, String)>, String> {
    let Some(headers) = headers.filter(|v| **v != Value::Null) else {
        return Ok(Vec::new());
    };
    let Value::Dict(headers) = headers else {
        return Err(not_a("headers", "an object of name: [values]", headers));
    };
    let mut list = Vec::new();
    for (name, values) in headers.iter() {
        let values: Vec<&Value> = match values {
            Value::List(values) => values.iter().collect(),
            one => vec![one],
        };
        for value in values {
            let Value::Str(value) = value else {
                return Err(not_a(&format!("headers.{name}"), "strings", value));
            };
            list.push((name.to_owned(), value.clone()));
        }
    }
    Ok(list)
}

/// `params`: `{name: value}` query parameters.
fn params_of(params: Option<&Value>) -> Result<Vec<(String, String)>, String> {
    let Some(params) = params.filter(|v| **v != Value::Null) else {
        return Ok(Vec::new());
    };
    let Value::Dict(params) = params else {
        return Err(not_a("params", "an object of name: value", params));
    };
    params
        .iter()
        .map(|(name, value)| match value {
            Value::Str(value) => Ok((name.to_owned(), value.clone())),
            other => Err(not_a(&format!("params.{name}"), "a string", other)),
        })
        .collect()
}

fn not_a(what: &str, expected: &str, got: &Value) -> String {
    format!(
        "RESTCallee's \"{what}\" must be {expected}, not a {}",
        got.type_name()
    )
}

/// The call's result as Crossbar.io shapes it: the status `code`, the body
/// as text `content`, and `headers` as `{Name: [values]}`.
pub(crate) fn result(response: &Response) -> Value {
    let mut shaped = Dict::new();
    shaped.insert("code", Value::from(u64::from(response.status)));
    shaped.insert(
        "content",
        Value::from(content(&response.headers, &response.body)),
    );
    shaped.insert("headers", Value::Dict(headers(&response.headers)));
    Value::Dict(shaped)
}

/// The body decoded as Crossbar.io's HTTP client (treq) decodes it: by the
/// `charset` of the last `Content-Type`, UTF-8 for `application/json`,
/// else ISO-8859-1 (every byte a character). Undecodable bytes become
/// U+FFFD where treq would fail the call.
fn content(headers: &HeaderMap, body: &[u8]) -> String {
    let content_type = headers
        .get_all(reqwest::header::CONTENT_TYPE)
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok());
    let label = content_type.and_then(charset).or_else(|| {
        content_type
            .map(|t| t.split(';').next().unwrap_or_default().trim())
            .filter(|media| media.eq_ignore_ascii_case("application/json"))
            .map(|_| "utf-8".to_owned())
    });
    match label
        .as_deref()
        .and_then(|l| encoding_rs::Encoding::for_label(l.as_bytes()))
    {
        Some(encoding) if encoding != encoding_rs::WINDOWS_1252 => {
            encoding.decode_without_bom_handling(body).0.into_owned()
        }
        // ISO-8859-1 proper, which the WHATWG labels map to windows-1252.
        _ => body.iter().map(|&b| char::from(b)).collect(),
    }
}

/// The `charset` parameter of a `Content-Type` value, unquoted and in
/// lower case.
fn charset(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
        (name.trim().eq_ignore_ascii_case("charset") && !value.is_empty())
            .then(|| value.to_ascii_lowercase())
    })
}

/// Header fields as `{Name: [values]}`, names in Twisted's canonical
/// capitalisation (Crossbar.io's callee reports them so), in arrival order.
fn headers(headers: &HeaderMap) -> Dict {
    let mut shaped = Dict::new();
    for name in headers.keys() {
        let values: Vec<Value> = headers
            .get_all(name)
            .iter()
            .map(|v| Value::from(String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        shaped.insert(canonical_name(name.as_str()), Value::List(values));
    }
    shaped
}

/// `content-type` → `Content-Type`, with Twisted's exceptions (`ETag`,
/// `WWW-Authenticate`, ...).
fn canonical_name(name: &str) -> String {
    const EXCEPTIONS: [&str; 7] = [
        "Content-MD5",
        "DNT",
        "ETag",
        "P3P",
        "TE",
        "WWW-Authenticate",
        "X-XSS-Protection",
    ];
    if let Some(exception) = EXCEPTIONS.iter().find(|e| e.eq_ignore_ascii_case(name)) {
        return (*exception).to_owned();
    }
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => {
                    first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
                }
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use proptest::prelude::*;

    use super::*;

    fn base() -> HttpUrl {
        HttpUrl::parse("http://127.0.0.1:8000/api/").unwrap()
    }

    fn kwargs(pairs: &[(&str, Value)]) -> Dict {
        pairs.iter().cloned().collect()
    }

    #[test]
    fn urls_join_the_base_as_urljoin_does() {
        for (url, joined) in [
            ("users", "http://127.0.0.1:8000/api/users"),
            ("/root", "http://127.0.0.1:8000/root"),
            ("", "http://127.0.0.1:8000/api/"),
            ("../up?x=1", "http://127.0.0.1:8000/up?x=1"),
            ("http://other.example/", "http://other.example/"),
        ] {
            let call = kwargs(&[("method", "GET".into()), ("url", url.into())]);
            let request = CallRequest::from_arguments(&base(), &[], &call).unwrap();
            assert_eq!(request.url.as_str(), joined, "{url}");
        }
        let request = CallRequest::from_arguments(&base(), &["get".into()], &Dict::new()).unwrap();
        assert_eq!((request.method, request.url), (Method::GET, base()));
    }

    #[test]
    fn arguments_are_taken_by_keyword_or_position() {
        let headers: Dict = [
            ("X-Many", Value::List(vec!["a".into(), "b".into()])),
            ("X-One", "c".into()),
        ]
        .into_iter()
        .collect();
        let params: Dict = [("q", Value::from("1"))].into_iter().collect();
        let request = CallRequest::from_arguments(
            &base(),
            &["POST".into(), "x".into()],
            &kwargs(&[
                ("body", "hello".into()),
                ("headers", Value::Dict(headers)),
                ("params", Value::Dict(params)),
            ]),
        )
        .unwrap();
        assert_eq!(
            request,
            CallRequest {
                method: Method::POST,
                url: HttpUrl::parse("http://127.0.0.1:8000/api/x").unwrap(),
                body: "hello".into(),
                headers: vec![
                    ("X-Many".into(), "a".into()),
                    ("X-Many".into(), "b".into()),
                    ("X-One".into(), "c".into())
                ],
                params: vec![("q".into(), "1".into())],
            }
        );
    }

    #[test]
    fn bad_arguments_say_which() {
        for (args, kwargs, expected) in [
            (vec![], kwargs(&[]), "needs \"method\""),
            (
                vec![],
                kwargs(&[("method", 1u64.into())]),
                "\"method\" must be",
            ),
            (
                vec!["GET".into()],
                kwargs(&[("method", "GET".into())]),
                "twice",
            ),
            (
                vec![],
                kwargs(&[("method", "GET".into()), ("verb", "x".into())]),
                "no argument \"verb\"",
            ),
            (
                vec![],
                kwargs(&[("method", "GET".into()), ("body", true.into())]),
                "\"body\" must be",
            ),
            (
                vec![],
                kwargs(&[
                    ("method", "GET".into()),
                    ("params", Value::Dict(kwargs(&[("a", 1u64.into())]))),
                ]),
                "params.a",
            ),
            (vec![Value::Null; 6], kwargs(&[]), "at most 5"),
            (
                vec!["GET".into(), "ftp://files.example/".into()],
                kwargs(&[]),
                "not an http:// or https:// URL",
            ),
        ] {
            let error = CallRequest::from_arguments(&base(), &args, &kwargs).unwrap_err();
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn results_are_shaped_as_crossbar_shapes_them() {
        let mut headers = HeaderMap::new();
        headers.append("content-type", "text/plain".parse().unwrap());
        headers.append("etag", "\"x\"".parse().unwrap());
        headers.append("x-multi-word", "1".parse().unwrap());
        headers.append("x-multi-word", "2".parse().unwrap());
        let response = Response {
            status: 404,
            headers,
            body: vec![b'c', 0xE9],
        };
        let Value::Dict(shaped) = result(&response) else {
            panic!("not a dict");
        };
        assert_eq!(shaped.get("code"), Some(&Value::from(404u64)));
        // No charset: ISO-8859-1.
        assert_eq!(shaped.get("content"), Some(&Value::from("cé")));
        let names: Vec<&str> = shaped
            .get("headers")
            .and_then(Value::as_dict)
            .unwrap()
            .iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(names, ["Content-Type", "ETag", "X-Multi-Word"]);
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<u64>().prop_map(Value::UInt),
            "[a-zA-Z:/?#.%_ -]{0,20}".prop_map(Value::Str),
            ".{0,20}".prop_map(Value::Str),
        ];
        leaf.prop_recursive(3, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
                proptest::collection::btree_map("[A-Za-z-]{0,8}", inner, 0..6)
                    .prop_map(|m| Value::Dict(m.into_iter().collect())),
            ]
        })
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::sample::select(&PARAMETERS[..]).prop_map(str::to_owned),
            "[a-z]{0,6}",
        ]
    }

    proptest! {
        /// Whatever a caller sends, the callee answers: a request to an
        /// http(s) URL, or an error message; never a panic.
        #[test]
        fn any_arguments_give_a_request_or_a_reason(
            args in proptest::collection::vec(value(), 0..7),
            kwargs in proptest::collection::vec((key(), value()), 0..6),
        ) {
            let kwargs: Dict = kwargs.into_iter().collect();
            match CallRequest::from_arguments(&base(), &args, &kwargs) {
                Ok(request) => prop_assert!(matches!(request.url.scheme(), "http" | "https")),
                Err(reason) => prop_assert!(!reason.is_empty()),
            }
        }

        /// Any response body and header decode without a panic, and header
        /// names keep their letters.
        #[test]
        fn any_response_is_shaped(
            body in proptest::collection::vec(any::<u8>(), 0..64),
            content_type in "[ -~]{0,40}",
            name in "[A-Za-z0-9-]{1,20}",
        ) {
            let mut headers = HeaderMap::new();
            if let Ok(value) = content_type.parse() {
                headers.append("content-type", value);
            }
            let _ = content(&headers, &body);
            prop_assert!(canonical_name(&name).eq_ignore_ascii_case(&name));
        }
    }

    #[test]
    fn content_is_decoded_by_charset_then_media_type() {
        let with = |content_type: &str| {
            let mut headers = HeaderMap::new();
            headers.append("content-type", content_type.parse().unwrap());
            headers
        };
        let utf8 = "é".as_bytes();
        assert_eq!(content(&with("application/json"), utf8), "é");
        assert_eq!(content(&with("text/plain; charset=\"UTF-8\""), utf8), "é");
        assert_eq!(content(&with("text/plain; charset=iso-8859-1"), utf8), "Ã©");
        assert_eq!(content(&HeaderMap::new(), utf8), "Ã©");
    }
}
