//! Typed reading of one part of the config: serde does the type checks,
//! `serde_path_to_error` says where a type error is, and `serde_ignored`
//! names every key no field took.
//!
//! Lists of objects and objects chosen by a `type` key are kept as
//! [`Value`]s in the serde types and read one by one with [`read`], so that
//! a type error in one transport does not hide the errors of the next.
//! Integers are read as `i64` and range-checked by the converters, so that
//! a bad number gets a message that names the allowed range.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::diag::{Diagnostics, Path, Segment};

/// Root keys of one object that no field holds but that are still
/// accepted: Crossbar.io keys that ringbar does not need.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Accept<'a> {
    /// Taken without a word (`type`, `id`, `debug`, ...).
    pub(crate) silent: &'a [&'a str],
    /// Taken with the warning `ignored_message`.
    pub(crate) ignored: &'a [&'a str],
    /// The warning for an `ignored` key.
    pub(crate) ignored_message: &'a str,
}

impl<'a> Accept<'a> {
    /// Nothing beyond the fields of the type.
    pub(crate) const NONE: Accept<'static> = Accept {
        silent: &[],
        ignored: &[],
        ignored_message: "",
    };

    /// The fields of the type and `keys`, silently.
    pub(crate) const fn silent(keys: &'a [&'a str]) -> Self {
        Accept {
            silent: keys,
            ignored: &[],
            ignored_message: "",
        }
    }
}

/// Reads `value` (found at `path`) as a `T`. Unknown keys become warnings;
/// a type error becomes an error and `None`.
pub(crate) fn read<T: DeserializeOwned>(
    value: &Value,
    path: &Path,
    diag: &mut Diagnostics,
) -> Option<T> {
    read_with(value, path, diag, Accept::NONE)
}

/// Like [`read`], also accepting the root keys `accept` names.
pub(crate) fn read_with<T: DeserializeOwned>(
    value: &Value,
    path: &Path,
    diag: &mut Diagnostics,
    accept: Accept<'_>,
) -> Option<T> {
    let mut unknown = Vec::new();
    let mut on_ignored = |ignored: serde_ignored::Path<'_>| {
        let mut segments = Vec::new();
        collect(&ignored, &mut segments);
        unknown.push(segments);
    };
    let deserializer = serde_ignored::Deserializer::new(value, &mut on_ignored);
    let result: Result<T, _> = serde_path_to_error::deserialize(deserializer);
    for segments in unknown {
        let root_key = match segments.as_slice() {
            [Segment::Key(key)] => Some(key.as_str()),
            _ => None,
        };
        match root_key {
            Some(key) if accept.silent.contains(&key) => {}
            Some(key) if accept.ignored.contains(&key) => {
                diag.warn(&path.key(key), accept.ignored_message);
            }
            _ => diag.warn(
                &path.join(Path::from_segments(segments)),
                "unknown key, ignored",
            ),
        }
    }
    match result {
        Ok(typed) => Some(typed),
        Err(error) => {
            let at: Vec<Segment> = error
                .path()
                .iter()
                .filter_map(|segment| match segment {
                    serde_path_to_error::Segment::Seq { index } => Some(Segment::Index(*index)),
                    serde_path_to_error::Segment::Map { key } => Some(Segment::Key(key.clone())),
                    serde_path_to_error::Segment::Enum { .. }
                    | serde_path_to_error::Segment::Unknown => None,
                })
                .collect();
            diag.error(&path.join(Path::from_segments(at)), error.inner());
            None
        }
    }
}

/// The `type` of an object chosen by it: `Some` when `value` is an object
/// with a string `type`, else an error naming the choices.
pub(crate) fn type_tag<'v>(
    value: &'v Value,
    path: &Path,
    what: &str,
    choices: &str,
    diag: &mut Diagnostics,
) -> Option<&'v str> {
    let Some(object) = value.as_object() else {
        diag.error(path, format!("{} is not a {what} object", show(value)));
        return None;
    };
    match object.get("type") {
        Some(Value::String(tag)) => Some(tag),
        Some(other) => {
            diag.error(
                &path.key("type"),
                format!("{} is not a {what} type ({choices})", show(other)),
            );
            None
        }
        None => {
            diag.error(path, format!("missing \"type\" of the {what} ({choices})"));
            None
        }
    }
}

/// A value as it would be written in JSON, for messages: strings quoted,
/// long values cut.
pub(crate) fn show(value: &Value) -> String {
    const MAX_CHARS: usize = 60;
    let text = value.to_string();
    if text.chars().count() <= MAX_CHARS {
        text
    } else {
        let cut: String = text.chars().take(MAX_CHARS).collect();
        format!("{cut}...")
    }
}

/// The segments of an ignored key's path, outermost first.
fn collect(path: &serde_ignored::Path<'_>, out: &mut Vec<Segment>) {
    match path {
        serde_ignored::Path::Root => {}
        serde_ignored::Path::Seq { parent, index } => {
            collect(parent, out);
            out.push(Segment::Index(*index));
        }
        serde_ignored::Path::Map { parent, key } => {
            collect(parent, out);
            out.push(Segment::Key(key.clone()));
        }
        serde_ignored::Path::Some { parent }
        | serde_ignored::Path::NewtypeStruct { parent }
        | serde_ignored::Path::NewtypeVariant { parent } => collect(parent, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        #[serde(default)]
        port: Option<u16>,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        #[serde(default)]
        inner: Vec<Inner>,
    }

    fn messages(diag: &Diagnostics) -> (Vec<String>, Vec<String>) {
        (
            diag.errors().iter().map(ToString::to_string).collect(),
            diag.warnings().iter().map(ToString::to_string).collect(),
        )
    }

    #[test]
    fn unknown_keys_are_named_with_their_path() {
        let mut diag = Diagnostics::new("config.json");
        let value = json!({"inner": [{"port": 1}, {"port": 2, "foo": true}], "bar": 1});
        let read: Option<Outer> = read(&value, &Path::root().key("x"), &mut diag);
        assert!(read.is_some());
        let (errors, warnings) = messages(&diag);
        assert!(errors.is_empty());
        assert_eq!(
            warnings,
            [
                "config.json: x.bar: unknown key, ignored",
                "config.json: x.inner[1].foo: unknown key, ignored",
            ]
        );
    }

    #[test]
    fn type_errors_name_their_path() {
        let mut diag = Diagnostics::new("config.json");
        let value = json!({"inner": [{"port": "80"}]});
        let read: Option<Outer> = read(&value, &Path::root(), &mut diag);
        assert!(read.is_none());
        let (errors, _) = messages(&diag);
        assert_eq!(
            errors,
            ["config.json: inner[0].port: invalid type: string \"80\", expected u16"]
        );
    }

    #[test]
    fn accepted_keys_count_only_at_the_root() {
        let mut diag = Diagnostics::new("c");
        let value = json!({"type": "x", "old": 1, "inner": [{"type": "y"}]});
        let accept = Accept {
            silent: &["type"],
            ignored: &["old"],
            ignored_message: "not needed, ignored",
        };
        let _: Option<Outer> = read_with(&value, &Path::root(), &mut diag, accept);
        let (_, warnings) = messages(&diag);
        assert_eq!(
            warnings,
            [
                "c: inner[0].type: unknown key, ignored",
                "c: old: not needed, ignored",
            ]
        );
    }

    #[test]
    fn type_tags_are_checked() {
        let mut diag = Diagnostics::new("c");
        let path = Path::root().key("t");
        assert_eq!(
            type_tag(
                &json!({"type": "web"}),
                &path,
                "transport",
                "web",
                &mut diag
            ),
            Some("web")
        );
        assert_eq!(
            type_tag(&json!({}), &path, "transport", "web", &mut diag),
            None
        );
        assert_eq!(
            type_tag(&json!({"type": 1}), &path, "transport", "web", &mut diag),
            None
        );
        assert_eq!(
            type_tag(&json!([]), &path, "transport", "web", &mut diag),
            None
        );
        let (errors, _) = messages(&diag);
        assert_eq!(
            errors,
            [
                "c: t: missing \"type\" of the transport (web)",
                "c: t.type: 1 is not a transport type (web)",
                "c: t: [] is not a transport object",
            ]
        );
    }
}
