//! Typed reading of one part of the config: serde does the type checks,
//! `serde_path_to_error` says where a type error is, and
//! [`unknown::Deserializer`] names every key no field took, which is an
//! error with the nearest known key, as Crossbar.io refuses unknown keys.
//!
//! Lists of objects and objects chosen by a `type` key are kept as
//! [`Value`]s in the serde types and read one by one with [`read`], so that
//! a type error in one transport does not hide the errors of the next.
//! Integers are read as `i64` and range-checked by the converters, so that
//! a bad number gets a message that names the allowed range.

use std::cell::RefCell;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::diag::{Diagnostics, Path, Segment};
use super::suggest::nearest;
use super::unknown::{self, UnknownKey};

/// Root keys of one object that no field holds but that are still
/// accepted: Crossbar.io keys that ringbar does not need, and keys another
/// part of the reader takes. Every other unknown key is an error.
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

/// Reads `value` (found at `path`) as a `T`. A key that `T` does not know
/// is an error; a type error is an error and `None`.
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
    let unknown = RefCell::new(Vec::new());
    let result: Result<T, _> =
        serde_path_to_error::deserialize(unknown::Deserializer::new(value, &unknown));
    for key in unknown.into_inner() {
        report_unknown(key, path, diag, accept);
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

/// Reports a key no field took: taken silently or with a warning when
/// `accept` names it (root keys only), else an error that names the nearest
/// key known at that place.
fn report_unknown(key: UnknownKey, path: &Path, diag: &mut Diagnostics, accept: Accept<'_>) {
    let at_root = key.object.is_empty();
    let name = key.key.as_str();
    if at_root && accept.silent.contains(&name) {
        return;
    }
    let key_path = path.join(Path::from_segments(key.object)).key(name);
    if at_root && accept.ignored.contains(&name) {
        diag.warn(&key_path, accept.ignored_message);
        return;
    }
    let mut known: Vec<&str> = key.known.to_vec();
    if at_root {
        known.extend(accept.silent);
        known.extend(accept.ignored);
    }
    let message = match nearest(name, &known) {
        Some(best) => format!("unknown key: did you mean `{best}`?"),
        None if known.is_empty() => "unknown key: this object takes no keys".to_owned(),
        None => format!("unknown key (the keys here: {})", known.join(", ")),
    };
    diag.error(&key_path, message);
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
    fn unknown_keys_are_errors_with_their_path_and_the_nearest_key() {
        let mut diag = Diagnostics::new("config.json");
        let value = json!({"inner": [{"port": 1}, {"port": 2, "prot": 3}], "bar": 1, "iner": []});
        let read: Option<Outer> = read(&value, &Path::root().key("x"), &mut diag);
        assert!(read.is_some());
        let (errors, warnings) = messages(&diag);
        assert!(warnings.is_empty());
        assert_eq!(
            errors,
            [
                "config.json: x.bar: unknown key (the keys here: inner)",
                "config.json: x.iner: unknown key: did you mean `inner`?",
                "config.json: x.inner[1].prot: unknown key: did you mean `port`?",
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
        let value = json!({"type": "x", "old": 1, "inner": [{"type": "y"}], "olt": 2});
        let accept = Accept {
            silent: &["type"],
            ignored: &["old"],
            ignored_message: "not needed, ignored",
        };
        let _: Option<Outer> = read_with(&value, &Path::root(), &mut diag, accept);
        let (errors, warnings) = messages(&diag);
        assert_eq!(warnings, ["c: old: not needed, ignored"]);
        assert_eq!(
            errors,
            [
                "c: inner[0].type: unknown key (the keys here: port)",
                "c: olt: unknown key: did you mean `old`?",
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
