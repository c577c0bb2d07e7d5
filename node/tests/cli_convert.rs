//! `ringbar convert DIR`: config.json <-> config.yaml, as `crossbar convert`.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::fs;

use support::{Scratch, UNIX_CONFIG, run, text};

fn parsed_json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn json_becomes_yaml_and_yaml_becomes_json() {
    let dir = Scratch::new("convert").with_config(UNIX_CONFIG);
    let output = run(&["convert", "--cbdir", dir.arg()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let (json, yaml) = (dir.path.join("config.json"), dir.path.join("config.yaml"));
    assert_eq!(
        text(&output.stdout),
        format!(
            "Converted {0} to {1}.\nringbar reads {0} while it exists: remove it to run from {1}.\n",
            json.display(),
            yaml.display()
        )
    );
    let yaml_text = fs::read_to_string(&yaml).unwrap();
    assert!(
        yaml_text.starts_with("version: 2\nworkers:\n"),
        "{yaml_text}"
    );
    let as_value: serde_json::Value = serde_yaml_ng::from_str(&yaml_text).unwrap();
    assert_eq!(as_value, parsed_json(UNIX_CONFIG));

    // Both exist: nothing is overwritten.
    let output = run(&["convert", dir.arg()]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr),
        format!(
            "ringbar: {} exists: convert does not overwrite it; remove it first\n",
            yaml.display()
        )
    );

    // Back: the YAML, once config.json is gone, checks and converts.
    fs::remove_file(&json).unwrap();
    let check = run(&["check", dir.arg()]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    let output = run(&["convert", dir.arg()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        format!("Converted {} to {}.\n", yaml.display(), json.display())
    );
    assert_eq!(
        parsed_json(&fs::read_to_string(&json).unwrap()),
        parsed_json(UNIX_CONFIG)
    );
}

#[test]
fn an_invalid_or_missing_config_is_not_converted() {
    let broken = UNIX_CONFIG.replacen("\"realms\"", "\"realmz\"", 1);
    let dir = Scratch::new("convert-invalid").with_config(&broken);
    let output = run(&["convert", dir.arg()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr
            .contains("error: config.json: workers[0].realmz: unknown key: did you mean `realms`?"),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("ringbar: the config has 1 error; nothing was converted.\n"),
        "{stderr}"
    );
    assert!(!dir.path.join("config.yaml").exists());

    let empty = Scratch::new("convert-missing");
    fs::create_dir_all(&empty.path).unwrap();
    let output = run(&["convert", empty.arg()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("no config.json or config.yaml"));
}
