//! `ringbar convert DIR [--config FILE]`: the node's config file from JSON
//! to YAML or from YAML to JSON, written beside it under the same name with
//! the other extension, as `crossbar convert` does. Only a valid config is
//! converted, and an existing file is never overwritten.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use crate::config::{self, CONFIG_FILES, LoadError, Overrides};
use crate::start::config_failure;
use crate::{EXIT_CONFIG, EXIT_FAILURE};

/// Converts the config `file` of `dir` (the directory's own when `None`):
/// exit 0 when written, 2 when the config is missing or invalid, 1 when
/// the other file exists or cannot be written.
pub(crate) fn run(dir: &Path, file: Option<&Path>) -> ExitCode {
    let source = match config::config_file(dir, file) {
        Ok(source) => source,
        Err(error) => return config_failure(&error, ""),
    };
    match config::load(dir, Some(&source), Overrides::default()) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                eprintln!("warning: {warning}");
            }
        }
        Err(error) => return config_failure(&error, "; nothing was converted"),
    }
    let text = match std::fs::read_to_string(&source) {
        Ok(text) => text,
        Err(source_error) => {
            let error = LoadError::Read {
                path: source,
                source: source_error,
            };
            return config_failure(&error, "");
        }
    };
    let to_yaml = source.extension().is_some_and(|e| e == "json");
    let (target, converted) = if to_yaml {
        (source.with_extension("yaml"), json_to_yaml(&text))
    } else {
        (source.with_extension("json"), yaml_to_json(&text))
    };
    let converted = match converted {
        Ok(converted) => converted,
        Err(error) => {
            eprintln!("ringbar: {}: {error}", source.display());
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Err(error) = write_new(&target, &converted) {
        if error.kind() == io::ErrorKind::AlreadyExists {
            eprintln!(
                "ringbar: {} exists: convert does not overwrite it; remove it first",
                target.display()
            );
        } else {
            eprintln!("ringbar: cannot write {}: {error}", target.display());
        }
        return ExitCode::from(EXIT_FAILURE);
    }
    println!("Converted {} to {}.", source.display(), target.display());
    let json = dir.join(CONFIG_FILES[0]);
    if target == dir.join(CONFIG_FILES[1]) && json.is_file() {
        println!(
            "ringbar reads {} while it exists: remove it to run from {}.",
            json.display(),
            target.display()
        );
    }
    ExitCode::SUCCESS
}

/// JSON text as YAML, keys in the order of the file.
fn json_to_yaml(text: &str) -> Result<String, String> {
    // serde_yaml_ng's value keeps its keys in order, unlike serde_json's.
    let value: serde_yaml_ng::Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    serde_yaml_ng::to_string(&value).map_err(|e| format!("cannot be written as YAML: {e}"))
}

/// YAML text as JSON (indented, with a final newline), keys in the order
/// of the file.
fn yaml_to_json(text: &str) -> Result<String, String> {
    let value: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
    let mut json = serde_json::to_string_pretty(&value)
        .map_err(|e| format!("cannot be written as JSON: {e}"))?;
    json.push('\n');
    Ok(json)
}

/// Writes `text` to `path`, which must not exist yet.
fn write_new(path: &Path, text: &str) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: &str = r#"{
  "version": 2,
  "workers": [
    {
      "type": "router",
      "realms": [{"name": "realm1", "roles": []}],
      "transports": []
    }
  ],
  "$schema": "x"
}"#;

    #[test]
    fn json_becomes_yaml_and_back_in_the_order_of_the_file() {
        let yaml = json_to_yaml(JSON).unwrap();
        assert_eq!(
            yaml,
            "version: 2\nworkers:\n- type: router\n  realms:\n  - name: realm1\n    roles: []\n  transports: []\n$schema: x\n"
        );
        let json = yaml_to_json(&yaml).unwrap();
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        let original: serde_json::Value = serde_json::from_str(JSON).unwrap();
        assert_eq!(back, original);
        assert!(
            json.starts_with("{\n  \"version\": 2,\n  \"workers\": ["),
            "{json}"
        );
        assert!(json.ends_with("\"$schema\": \"x\"\n}\n"), "{json}");
    }

    #[test]
    fn what_cannot_be_read_or_written_says_so() {
        assert!(json_to_yaml("{").unwrap_err().starts_with("not valid JSON"));
        assert!(
            yaml_to_json("a: [")
                .unwrap_err()
                .starts_with("not valid YAML")
        );
        // JSON has no keys other than strings.
        assert!(
            yaml_to_json("[1, 2]: x\n")
                .unwrap_err()
                .starts_with("cannot be written as JSON")
        );
    }
}
