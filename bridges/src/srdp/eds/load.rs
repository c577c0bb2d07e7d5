//! Reading an EDS folder: each file parsed and checked on its own, then
//! every EDS's inheritance resolved against the others.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use super::types::{Count, Element, Field, MAX_REGISTER_BYTES, Prefix, RegisterType, Scalar};
use super::{Access, Eds, EdsDatabase, Register};

/// The most EDS files a folder may hold (a bound on start-up work).
pub const MAX_EDS_FILES: usize = 1000;
/// The largest EDS file read.
pub const MAX_EDS_FILE_BYTES: u64 = 1024 * 1024;
/// The deepest inheritance followed.
const MAX_INHERITANCE_DEPTH: usize = 16;

/// Why an EDS folder cannot be used: the file, where in it, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EdsError(pub String);

/// One EDS as its file says, before inheritance.
#[derive(Debug)]
struct EdsFile {
    file: String,
    uri: String,
    label: Option<String>,
    desc: Option<String>,
    inherits: Vec<String>,
    registers: Vec<(String, Register)>,
}

/// Loads every `*.json` under `folder` (and its subfolders).
pub(super) fn folder(folder: &Path) -> Result<EdsDatabase, EdsError> {
    let mut files = Vec::new();
    collect(folder, &mut files, 0)?;
    files.sort();
    let mut texts = Vec::with_capacity(files.len());
    for path in files {
        let name = path.display().to_string();
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if size > MAX_EDS_FILE_BYTES {
            return Err(EdsError(format!(
                "{name}: {size} bytes exceed the largest EDS file ({MAX_EDS_FILE_BYTES})"
            )));
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| EdsError(format!("{name}: cannot read it ({e})")))?;
        texts.push((name, text));
    }
    from_texts(&texts)
}

/// The database of EDS files given as `(name, text)`.
pub(crate) fn from_texts(texts: &[(String, String)]) -> Result<EdsDatabase, EdsError> {
    let mut parsed: BTreeMap<String, EdsFile> = BTreeMap::new();
    for (name, text) in texts {
        let eds = parse(name, text)?;
        if let Some(first) = parsed.get(&eds.uri) {
            return Err(EdsError(format!(
                "{name}: uri {:?} is also the uri of {}: give each EDS its own uri",
                eds.uri, first.file
            )));
        }
        parsed.insert(eds.uri.clone(), eds);
    }
    let mut by_uri = BTreeMap::new();
    for eds in parsed.values() {
        let mut registers: Vec<(String, Register)> = Vec::new();
        let mut seen = Vec::new();
        gather(eds, &parsed, &mut seen, &mut registers, 0)?;
        check_overlaps(&registers)?;
        let mut registers: Vec<Register> = registers.into_iter().map(|(_, r)| r).collect();
        registers.sort_by_key(|r| r.index);
        by_uri.insert(
            eds.uri.clone(),
            Arc::new(Eds {
                uri: eds.uri.clone(),
                label: eds.label.clone(),
                desc: eds.desc.clone(),
                registers,
            }),
        );
    }
    Ok(EdsDatabase { by_uri })
}

fn collect(dir: &Path, files: &mut Vec<std::path::PathBuf>, depth: usize) -> Result<(), EdsError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        EdsError(format!(
            "{}: cannot read the EDS folder ({e})",
            dir.display()
        ))
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && depth < MAX_INHERITANCE_DEPTH {
            collect(&path, files, depth + 1)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            files.push(path);
            if files.len() > MAX_EDS_FILES {
                return Err(EdsError(format!(
                    "{}: more than {MAX_EDS_FILES} EDS files",
                    dir.display()
                )));
            }
        }
    }
    Ok(())
}

/// Adds the registers of `eds` and of what it inherits (each EDS once),
/// each with a description of where it was defined.
fn gather(
    eds: &EdsFile,
    all: &BTreeMap<String, EdsFile>,
    seen: &mut Vec<String>,
    registers: &mut Vec<(String, Register)>,
    depth: usize,
) -> Result<(), EdsError> {
    if seen.contains(&eds.uri) {
        return Ok(());
    }
    if depth > MAX_INHERITANCE_DEPTH {
        return Err(EdsError(format!(
            "{}: inheritance deeper than {MAX_INHERITANCE_DEPTH} EDSs (a cycle?)",
            eds.file
        )));
    }
    seen.push(eds.uri.clone());
    for uri in &eds.inherits {
        let Some(parent) = all.get(uri) else {
            return Err(EdsError(format!(
                "{}: registers inherit {uri:?}, which no EDS file of the folder has as its uri",
                eds.file
            )));
        };
        gather(parent, all, seen, registers, depth + 1)?;
    }
    registers.extend(eds.registers.iter().cloned());
    Ok(())
}

fn check_overlaps(registers: &[(String, Register)]) -> Result<(), EdsError> {
    let mut by_index: HashMap<u16, &str> = HashMap::new();
    let mut by_path: HashMap<&str, &str> = HashMap::new();
    for (at, register) in registers {
        if let Some(first) = by_index.insert(register.index, at) {
            return Err(EdsError(format!(
                "{at}: index {} is also the index of {first}",
                register.index
            )));
        }
        if let Some(first) = by_path.insert(&register.uri_path, at) {
            return Err(EdsError(format!(
                "{at}: path {:?} names the same URI ({}) as {first}",
                register.path, register.uri_path
            )));
        }
    }
    Ok(())
}

/// One EDS file, checked on its own.
fn parse(name: &str, text: &str) -> Result<EdsFile, EdsError> {
    let fail = |at: &str, what: String| EdsError(format!("{name}: {at}: {what}"));
    let root: Value = serde_json::from_str(text)
        .map_err(|e| EdsError(format!("{name}: not valid JSON ({e})")))?;
    let Value::Object(root) = root else {
        return Err(EdsError(format!("{name}: an EDS is a JSON object")));
    };
    let text_of = |key: &str| -> Result<Option<String>, EdsError> {
        match root.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(fail(key, "must be a string".into())),
        }
    };
    let uri =
        text_of("uri")?.ok_or_else(|| fail("uri", "missing: every EDS names its uri".into()))?;
    let Some(Value::Array(entries)) = root.get("registers") else {
        return Err(fail("registers", "missing, or not a list".into()));
    };
    let mut eds = EdsFile {
        file: name.to_owned(),
        uri,
        label: text_of("label")?,
        desc: text_of("desc")?,
        inherits: Vec::new(),
        registers: Vec::new(),
    };
    for (index, entry) in entries.iter().enumerate() {
        let at = format!("registers[{index}]");
        match entry {
            Value::String(uri) => eds.inherits.push(uri.clone()),
            Value::Object(_) => {
                let register = register(entry).map_err(|(key, what)| {
                    fail(
                        &if key.is_empty() {
                            at.clone()
                        } else {
                            format!("{at}.{key}")
                        },
                        what,
                    )
                })?;
                let origin = format!("{name}: {at} ({})", register.path);
                eds.registers.push((origin, register));
            }
            _ => {
                return Err(fail(
                    &at,
                    "must be a register object or the uri of an EDS to inherit".into(),
                ));
            }
        }
    }
    Ok(eds)
}

/// A register object; on error, the key at fault and why.
fn register(entry: &Value) -> Result<Register, (String, String)> {
    let fail = |key: &str, what: &str| (key.to_owned(), what.to_owned());
    let index = entry
        .get("index")
        .and_then(Value::as_u64)
        .and_then(|i| u16::try_from(i).ok())
        .ok_or_else(|| fail("index", "must be an integer 0-65535"))?;
    let path = entry
        .get("path")
        .and_then(Value::as_str)
        .ok_or_else(|| fail("path", "must be a string such as \"/light#flashrate\""))?;
    let uri_path = uri_path(path).map_err(|what| fail("path", &what))?;
    let optional = match entry.get("optional") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(fail("optional", "must be true or false")),
    };
    let access = match entry.get("access").and_then(Value::as_str) {
        Some("read") => Access::Read,
        Some("write") => Access::Write,
        Some("readwrite") => Access::ReadWrite,
        _ => {
            return Err(fail(
                "access",
                "must be \"read\", \"write\" or \"readwrite\"",
            ));
        }
    };
    let element = match entry.get("type") {
        Some(Value::String(name)) => Element::Scalar(scalar(name).map_err(|e| fail("type", &e))?),
        Some(Value::Array(fields)) if !fields.is_empty() => {
            let mut parsed: Vec<Field> = Vec::with_capacity(fields.len());
            for (i, field) in fields.iter().enumerate() {
                let name = field
                    .get("field")
                    .and_then(Value::as_str)
                    .ok_or_else(|| fail(&format!("type[{i}].field"), "must be a string"))?;
                if parsed.iter().any(|f| f.name == name) {
                    return Err(fail(
                        &format!("type[{i}].field"),
                        &format!("{name:?} is used twice"),
                    ));
                }
                let ty = field.get("type").and_then(Value::as_str).ok_or_else(|| {
                    fail(&format!("type[{i}].type"), "must be a scalar type name")
                })?;
                let scalar = scalar(ty).map_err(|e| fail(&format!("type[{i}].type"), &e))?;
                parsed.push(Field {
                    name: name.to_owned(),
                    scalar,
                });
            }
            Element::Struct(parsed)
        }
        _ => {
            return Err(fail(
                "type",
                "must be a scalar type name or a non-empty list of {\"field\", \"type\"}",
            ));
        }
    };
    let count = match entry.get("count") {
        None => Count::Fixed(1),
        Some(Value::String(prefix)) if prefix == "uint8" => Count::Prefixed(Prefix::U8),
        Some(Value::String(prefix)) if prefix == "uint16" => Count::Prefixed(Prefix::U16),
        Some(count) => match count.as_u64().and_then(|n| u16::try_from(n).ok()) {
            Some(n) if n >= 1 => Count::Fixed(n),
            _ => {
                return Err(fail(
                    "count",
                    "must be an integer 1-65535, or \"uint8\" / \"uint16\" (a length prefix)",
                ));
            }
        },
    };
    let ty = RegisterType { element, count };
    let largest = match count {
        Count::Fixed(n) => usize::from(n) * ty.element.bytes(),
        Count::Prefixed(prefix) => prefix.bytes() + prefix.max() * ty.element.bytes(),
    };
    if matches!(count, Count::Fixed(_)) && largest > MAX_REGISTER_BYTES {
        return Err(fail(
            "count",
            &format!(
                "the register would be {largest} bytes, more than the largest ({MAX_REGISTER_BYTES})"
            ),
        ));
    }
    Ok(Register {
        index,
        path: path.to_owned(),
        uri_path,
        optional,
        access,
        ty,
        desc: entry.get("desc").and_then(Value::as_str).map(str::to_owned),
    })
}

fn scalar(name: &str) -> Result<Scalar, String> {
    Scalar::parse(name).ok_or_else(|| {
        format!("{name:?} is not a scalar type (uint8-64, int8-64, float, double, char)")
    })
}

/// `/light/color#rgb` → `light.color.rgb`.
pub(crate) fn uri_path(path: &str) -> Result<String, String> {
    let components: Vec<&str> = path
        .strip_prefix('/')
        .ok_or_else(|| format!("{path:?} must start with /"))?
        .split(['/', '#'])
        .collect();
    for component in &components {
        let valid = !component.is_empty()
            && component
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(format!(
                "{path:?} has the component {component:?}: each part between / and # must be letters, digits, _ or - (it becomes a URI component)"
            ));
        }
    }
    Ok(components.join("."))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn db(files: &[(&str, &str)]) -> Result<EdsDatabase, EdsError> {
        let texts: Vec<(String, String)> = files
            .iter()
            .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
            .collect();
        from_texts(&texts)
    }

    const BASE: &str = r#"{"uri": "urn:base", "registers": [
        {"index": 1, "path": "/system/id", "access": "read", "type": "uint8", "count": 16},
        {"index": 2, "path": "/system/eds", "access": "read", "type": "char", "count": "uint16"}
    ]}"#;

    #[test]
    fn inheritance_gathers_each_eds_once_sorted_by_index() {
        let light = r#"{"uri": "urn:light", "label": "Light", "registers": ["urn:base",
            {"index": 1024, "path": "/light", "access": "write", "type": [
                {"field": "red", "type": "uint8"}, {"field": "green", "type": "uint8"}]}]}"#;
        let board = r#"{"uri": "urn:board", "registers": [
            {"index": 1025, "path": "/light#flashrate", "access": "readwrite", "type": "float"},
            "urn:light", "urn:base"]}"#;
        let db = db(&[
            ("base.json", BASE),
            ("light.json", light),
            ("board.json", board),
        ])
        .unwrap();
        let board = db.get("urn:board").unwrap();
        let indexes: Vec<u16> = board.registers.iter().map(|r| r.index).collect();
        assert_eq!(indexes, [1, 2, 1024, 1025]);
        assert_eq!(board.register(1025).unwrap().uri_path, "light.flashrate");
        assert_eq!(db.get("urn:light").unwrap().label.as_deref(), Some("Light"));
    }

    #[test]
    fn overlaps_and_mistakes_name_both_places() {
        let twice = r#"{"uri": "urn:x", "registers": ["urn:base",
            {"index": 2, "path": "/other", "access": "read", "type": "uint8"}]}"#;
        let error = db(&[("base.json", BASE), ("x.json", twice)]).unwrap_err().0;
        assert!(error.contains("x.json: registers[1] (/other): index 2 is also the index of base.json: registers[1] (/system/eds)"), "{error}");
        let same_uri = r#"{"uri": "urn:x", "registers": [
            {"index": 1, "path": "/a/b", "access": "read", "type": "uint8"},
            {"index": 2, "path": "/a#b", "access": "read", "type": "uint8"}]}"#;
        let error = db(&[("x.json", same_uri)]).unwrap_err().0;
        assert!(error.contains("names the same URI (a.b)"), "{error}");
        for (text, says) in [
            (
                r#"{"uri": "urn:x", "registers": ["urn:missing"]}"#,
                "inherit \"urn:missing\"",
            ),
            (
                r#"{"uri": "urn:x", "registers": [{"index": 1, "path": "/a", "access": "read", "type": "uint7"}]}"#,
                "registers[0].type: \"uint7\"",
            ),
            (
                r#"{"uri": "urn:x", "registers": [{"index": 1, "path": "/a", "access": "read", "type": "uint8", "count": "uint32"}]}"#,
                "registers[0].count",
            ),
            (
                r#"{"uri": "urn:x", "registers": [{"index": 1, "path": "a", "access": "read", "type": "uint8"}]}"#,
                "must start with /",
            ),
            (
                r#"{"uri": "urn:x", "registers": [{"index": 1, "path": "/../a", "access": "read", "type": "uint8"}]}"#,
                "component \"..\"",
            ),
            (
                r#"{"uri": "urn:x", "registers": [{"index": 1, "path": "/a", "access": "all", "type": "uint8"}]}"#,
                "registers[0].access",
            ),
            (r#"{"registers": []}"#, "uri: missing"),
            (r#"[1]"#, "JSON object"),
        ] {
            let error = db(&[("x.json", text)]).unwrap_err().0;
            assert!(error.contains(says), "{error}");
        }
        let cycle_a = r#"{"uri": "urn:a", "registers": ["urn:b"]}"#;
        let cycle_b = r#"{"uri": "urn:b", "registers": ["urn:a"]}"#;
        // A cycle names each EDS once: it inherits nothing twice.
        assert!(db(&[("a.json", cycle_a), ("b.json", cycle_b)]).is_ok());
    }
}
