//! URI validation: the spec's strict and loose rules, in the three variants
//! (no empty component, empty last component, any empty component) that
//! exact, prefix and wildcard patterns use.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use ringbar_protocol::uri::{MatchPolicy, Uri, UriCheck, UriError, UriPattern};

const Y: bool = true;
const N: bool = false;

/// Each string with whether the spec's Python regexes accept it, strict then
/// loose, each as [no empty component, empty last component, any empty
/// component]. The verdicts were produced by running the regexes themselves
/// (`^([0-9a-z_]+\.)*([0-9a-z_]+)$` and its siblings).
const SPEC_REGEX_VERDICTS: &[(&str, [bool; 3], [bool; 3])] = &[
    ("com.myapp.mytopic1", [Y, Y, Y], [Y, Y, Y]),
    ("com.myapp.myprocedure1", [Y, Y, Y], [Y, Y, Y]),
    ("com.myapp.myerror1", [Y, Y, Y], [Y, Y, Y]),
    ("wamp.error.not_authorized", [Y, Y, Y], [Y, Y, Y]),
    ("com", [Y, Y, Y], [Y, Y, Y]),
    ("_", [Y, Y, Y], [Y, Y, Y]),
    ("0", [Y, Y, Y], [Y, Y, Y]),
    ("com.myapp.topic_2", [Y, Y, Y], [Y, Y, Y]),
    ("", [N, Y, Y], [N, Y, Y]),
    (".", [N, N, Y], [N, N, Y]),
    ("..", [N, N, Y], [N, N, Y]),
    ("com.", [N, Y, Y], [N, Y, Y]),
    (".com", [N, N, Y], [N, N, Y]),
    ("com..topic", [N, N, Y], [N, N, Y]),
    ("com.myapp.", [N, Y, Y], [N, Y, Y]),
    ("com.myapp..userevent", [N, N, Y], [N, N, Y]),
    ("com.myapp.Topic", [N, N, N], [Y, Y, Y]),
    ("com.my-app.topic", [N, N, N], [Y, Y, Y]),
    ("com.my app", [N, N, N], [N, N, N]),
    ("com.my\u{9}app", [N, N, N], [N, N, N]),
    ("com#1", [N, N, N], [N, N, N]),
    ("com.myapp.topic#1", [N, N, N], [N, N, N]),
    ("com.\u{e9}t\u{e9}", [N, N, N], [Y, Y, Y]),
    ("com.\u{a0}", [N, N, N], [N, N, N]),
    ("com.\u{3000}x", [N, N, N], [N, N, N]),
    ("com.\u{1c}", [N, N, N], [N, N, N]),
    ("com.\u{7f}", [N, N, N], [Y, Y, Y]),
    ("com.\u{0}", [N, N, N], [Y, Y, Y]),
    ("COM", [N, N, N], [Y, Y, Y]),
    ("com.my/app", [N, N, N], [Y, Y, Y]),
    ("com.my:app", [N, N, N], [Y, Y, Y]),
    ("a..", [N, N, Y], [N, N, Y]),
    ("..a", [N, N, Y], [N, N, Y]),
    ("a.b.", [N, Y, Y], [N, Y, Y]),
    ("#", [N, N, N], [N, N, N]),
    (" ", [N, N, N], [N, N, N]),
    ("a. .b", [N, N, N], [N, N, N]),
    ("\u{2028}", [N, N, N], [N, N, N]),
    ("a.\u{200b}", [N, N, N], [Y, Y, Y]),
];

/// The three families, as this crate exposes them.
fn verdicts(uri: &str, rule: UriCheck) -> [bool; 3] {
    [
        Uri::check(uri, rule).is_ok(),
        UriPattern::parse(uri, MatchPolicy::Prefix, rule).is_ok(),
        UriPattern::parse(uri, MatchPolicy::Wildcard, rule).is_ok(),
    ]
}

#[test]
fn agrees_with_the_spec_regexes() {
    for &(uri, strict, loose) in SPEC_REGEX_VERDICTS {
        assert_eq!(verdicts(uri, UriCheck::Strict), strict, "strict {uri:?}");
        assert_eq!(verdicts(uri, UriCheck::Loose), loose, "loose {uri:?}");
        assert_eq!(
            UriPattern::parse(uri, MatchPolicy::Exact, UriCheck::Strict).is_ok(),
            strict[0]
        );
        assert_eq!(Uri::parse(uri, UriCheck::Loose).is_ok(), loose[0]);
    }
}

#[test]
fn errors_name_the_component() {
    let strict = |uri| Uri::parse(uri, UriCheck::Strict).map(|_| ());
    let loose = |uri| Uri::parse(uri, UriCheck::Loose).map(|_| ());
    assert_eq!(strict(""), Err(UriError::Empty));
    assert_eq!(strict("."), Err(UriError::EmptyComponent { index: 0 }));
    assert_eq!(strict(".com"), Err(UriError::EmptyComponent { index: 0 }));
    assert_eq!(strict("com."), Err(UriError::EmptyComponent { index: 1 }));
    assert_eq!(
        strict("com.myapp..topic"),
        Err(UriError::EmptyComponent { index: 2 })
    );
    assert_eq!(
        strict("com.myApp"),
        Err(UriError::InvalidChar { ch: 'A', index: 1 })
    );
    assert_eq!(
        strict("com.caf\u{e9}"),
        Err(UriError::InvalidChar {
            ch: '\u{e9}',
            index: 1
        })
    );
    assert_eq!(loose("com.caf\u{e9}"), Ok(()));
    assert_eq!(
        loose("com.a b"),
        Err(UriError::InvalidChar { ch: ' ', index: 1 })
    );
    assert_eq!(
        loose("a.b.c#"),
        Err(UriError::InvalidChar { ch: '#', index: 2 })
    );
    assert_eq!(
        loose("x\u{3000}"),
        Err(UriError::InvalidChar {
            ch: '\u{3000}',
            index: 0
        })
    );
    // Python's `$` would accept a final newline; the rule does not.
    assert_eq!(
        loose("com.foo\n"),
        Err(UriError::InvalidChar { ch: '\n', index: 1 })
    );
    assert_eq!(
        UriPattern::parse("com..a.", MatchPolicy::Prefix, UriCheck::Strict),
        Err(UriError::EmptyComponent { index: 1 })
    );
}

/// The spec's rules restated naively: split on `.`, then check each piece.
fn reference(uri: &str, rule: UriCheck) -> [bool; 3] {
    let components: Vec<&str> = uri.split('.').collect();
    let last = components.len() - 1;
    let char_ok = |ch: char| match rule {
        UriCheck::Strict => ch.is_ascii_digit() || ch.is_ascii_lowercase() || ch == '_',
        UriCheck::Loose => ch != '#' && !ch.is_whitespace() && !('\u{1C}'..='\u{1F}').contains(&ch),
    };
    let valid = |empty_ok: &dyn Fn(usize) -> bool| {
        components.iter().enumerate().all(|(i, c)| {
            if c.is_empty() {
                empty_ok(i)
            } else {
                c.chars().all(char_ok)
            }
        })
    };
    [valid(&|_| false), valid(&|i| i == last), valid(&|_| true)]
}

fn uri_like() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "a",
        "z",
        "0",
        "9",
        "_",
        "-",
        "A",
        "Z",
        ".",
        ".",
        ".",
        "#",
        " ",
        "\t",
        "\n",
        "\u{e9}",
        "\u{a0}",
        "\u{1c}",
        "\u{1f}",
        "\u{85}",
        "\u{2009}",
        "\u{3000}",
        "\u{3001}",
        "\u{1f600}",
    ]);
    prop::collection::vec(pieces, 0..12).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn agrees_with_a_naive_reference(uri in uri_like()) {
        for rule in [UriCheck::Strict, UriCheck::Loose] {
            prop_assert_eq!(verdicts(&uri, rule), reference(&uri, rule), "{:?} {:?}", rule, uri);
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(uri in any::<String>()) {
        for rule in [UriCheck::Strict, UriCheck::Loose] {
            let [exact, prefix, wildcard] = verdicts(&uri, rule);
            // Each family is a superset of the one before.
            prop_assert!(!exact || prefix);
            prop_assert!(!prefix || wildcard);
        }
    }
}
