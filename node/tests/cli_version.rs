//! `ringbar version` and usage errors.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::{run, text};

#[test]
fn version_prints_the_version() {
    let output = run(&["version"]);
    assert!(output.status.success());
    assert_eq!(
        text(&output.stdout),
        format!("ringbar {} (wamp.2)\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_bad_command_line_exits_2() {
    let output = run(&["frobnicate"]);
    assert_eq!(output.status.code(), Some(2));
    let output = run(&["start", "x", "--io", "kqueue"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("kqueue"));
}
