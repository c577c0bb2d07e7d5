//! `ringbar keys DIR`: the node's public (or private) key, as
//! `crossbar keys` prints it.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::{Scratch, run, text};

/// The 64 hex digits of the `hex: ` line of `output`.
fn hex_line(stdout: &str) -> String {
    let hex = stdout
        .lines()
        .find_map(|line| line.strip_prefix("hex: "))
        .unwrap_or_else(|| panic!("no hex line in {stdout:?}"));
    assert_eq!(hex.len(), 64, "{hex}");
    assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()), "{hex}");
    hex.to_owned()
}

#[test]
fn keys_prints_the_key_of_key_pub_and_makes_one_when_missing() {
    let dir = Scratch::new("keys");
    let output = run(&["keys", "--cbdir", dir.arg()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.starts_with("ringbar node PUBLIC key\n"), "{stdout}");
    let public = hex_line(&stdout);
    let key_pub = std::fs::read_to_string(dir.path.join("key.pub")).unwrap();
    assert!(
        key_pub.contains(&format!("public-key-ed25519: {public}")),
        "{key_pub}"
    );
    assert!(text(&output.stderr).contains("Instance key generated."));

    // Again: the same key, loaded.
    let again = run(&["keys", dir.arg()]);
    assert_eq!(hex_line(&text(&again.stdout)), public);
    assert!(text(&again.stderr).contains("Instance key loaded."));

    let private = run(&["keys", dir.arg(), "--private"]);
    let stdout = text(&private.stdout);
    assert!(stdout.starts_with("ringbar node PRIVATE key\n"), "{stdout}");
    let key_priv = std::fs::read_to_string(dir.path.join("key.priv")).unwrap();
    assert!(
        key_priv.contains(&format!("private-key-ed25519: {}", hex_line(&stdout))),
        "the seed of key.priv"
    );
}
