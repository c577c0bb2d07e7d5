//! URI patterns: validity per match policy, the spec's matching examples, and
//! matching against a naive reference.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use ringbar_protocol::uri::{MatchPolicy, Uri, UriCheck, UriError, UriPattern};

#[allow(clippy::unwrap_used)] // test helper: a panic is a failed test
fn pattern(uri: &str, policy: MatchPolicy) -> UriPattern {
    UriPattern::parse(uri, policy, UriCheck::Strict).unwrap()
}

#[test]
fn validity_per_policy() {
    use MatchPolicy::{Exact, Prefix, Wildcard};
    let valid = |uri, policy| UriPattern::parse(uri, policy, UriCheck::Strict).is_ok();

    // A concrete URI is valid under every policy.
    for policy in [Exact, Prefix, Wildcard] {
        assert!(valid("com.myapp.topic", policy));
    }
    // Prefix: only the last component may be empty; the empty prefix is valid.
    assert!(valid("com.myapp.", Prefix));
    assert!(valid("", Prefix));
    assert!(!valid("com..topic", Prefix));
    assert!(!valid(".com", Prefix));
    assert!(!valid("com.myapp.", Exact));
    // Wildcard: any component may be empty.
    for uri in [
        "com..topic",
        ".foo",
        "foo.",
        "..",
        "",
        "com.myapp..userevent",
    ] {
        assert!(valid(uri, Wildcard), "{uri:?}");
        assert!(!valid(uri, Exact), "{uri:?}");
    }
    // The character rule still applies to non-empty components.
    assert_eq!(
        UriPattern::parse("com..Topic", Wildcard, UriCheck::Strict),
        Err(UriError::InvalidChar { ch: 'T', index: 2 })
    );
    assert!(UriPattern::parse("com..Topic", Wildcard, UriCheck::Loose).is_ok());
    assert_eq!(
        UriPattern::parse("com.a b.", Prefix, UriCheck::Loose),
        Err(UriError::InvalidChar { ch: ' ', index: 1 })
    );
}

#[test]
fn accessors() {
    let p = pattern("com.myapp..userevent", MatchPolicy::Wildcard);
    assert_eq!(p.policy(), MatchPolicy::Wildcard);
    assert_eq!(p.uri(), "com.myapp..userevent");
    assert_eq!(p.component_count(), 4);
    let exact = UriPattern::from(Uri::parse("com.a", UriCheck::Loose).unwrap());
    assert_eq!(exact.policy(), MatchPolicy::Exact);
    assert_eq!(exact.uri(), "com.a");
}

#[test]
fn exact_matches_equal_uris_only() {
    let p = pattern("com.myapp.topic", MatchPolicy::Exact);
    assert!(p.matches("com.myapp.topic"));
    assert!(!p.matches("com.myapp.topic.x"));
    assert!(!p.matches("com.myapp.topi"));
    assert!(!p.matches(""));
}

#[test]
fn prefix_examples_from_the_spec() {
    let p = pattern("com.myapp.topic.emergency", MatchPolicy::Prefix);
    for uri in [
        "com.myapp.topic.emergency.11",
        "com.myapp.topic.emergency-low",
        "com.myapp.topic.emergency.category.severe",
        "com.myapp.topic.emergency",
    ] {
        assert!(p.matches(uri), "{uri}");
    }
    assert!(!p.matches("com.myapp.topic.emerge"));

    let p = pattern("com.myapp.myobject1", MatchPolicy::Prefix);
    for uri in [
        "com.myapp.myobject1.myprocedure1",
        "com.myapp.myobject1-mysubobject1",
        "com.myapp.myobject1.mysubobject1.myprocedure1",
        "com.myapp.myobject1",
    ] {
        assert!(p.matches(uri), "{uri}");
    }
    assert!(!p.matches("com.myapp.myobject2"));
    assert!(!p.matches("com.myapp.myobject"));
}

#[test]
fn prefix_is_a_string_prefix_not_a_component_prefix() {
    let p = pattern("com.myapp.topic", MatchPolicy::Prefix);
    assert!(p.matches("com.myapp.topic.emergency.11"));
    assert!(p.matches("com.myapp.topic123"));
    assert!(!p.matches("com.myapp.topi"));
    // Ending the prefix in `.` asks for whole components.
    let p = pattern("com.myapp.topic.", MatchPolicy::Prefix);
    assert!(p.matches("com.myapp.topic.a"));
    assert!(!p.matches("com.myapp.topic123"));
    assert!(!p.matches("com.myapp.topic"));
    // The empty prefix matches everything.
    let p = pattern("", MatchPolicy::Prefix);
    assert!(p.matches("com.myapp.topic"));
    assert!(p.matches("wamp.session.on_join"));
}

#[test]
fn wildcard_examples_from_the_spec() {
    let p = pattern("com.myapp..userevent", MatchPolicy::Wildcard);
    for uri in [
        "com.myapp.foo.userevent",
        "com.myapp.bar.userevent",
        "com.myapp.a12.userevent",
    ] {
        assert!(p.matches(uri), "{uri}");
    }
    for uri in [
        "com.myapp.foo.userevent.bar",
        "com.myapp.foo.user",
        "com.myapp2.foo.userevent",
        "com.myapp.foo.bar.userevent",
        "com.myapp.userevent",
    ] {
        assert!(!p.matches(uri), "{uri}");
    }

    let p = pattern("com.myapp..myprocedure1", MatchPolicy::Wildcard);
    assert!(p.matches("com.myapp.myobject1.myprocedure1"));
    assert!(p.matches("com.myapp.myobject2.myprocedure1"));
    assert!(!p.matches("com.myapp.myobject1.myprocedure1.mysubprocedure1"));
    assert!(!p.matches("com.myapp.myobject1.myprocedure2"));
    assert!(!p.matches("com.myapp2.myobject1.myprocedure1"));
}

#[test]
fn wildcard_edges() {
    let leading = pattern(".foo", MatchPolicy::Wildcard);
    assert!(leading.matches("a.foo"));
    assert!(!leading.matches("foo"));
    assert!(!leading.matches("a.b.foo"));
    let trailing = pattern("foo.", MatchPolicy::Wildcard);
    assert!(trailing.matches("foo.a"));
    assert!(!trailing.matches("foo"));
    let all = pattern("..", MatchPolicy::Wildcard);
    assert!(all.matches("a.b.c"));
    assert!(!all.matches("a.b"));
    // No empty component: behaves like exact.
    let concrete = pattern("com.a", MatchPolicy::Wildcard);
    assert!(concrete.matches("com.a"));
    assert!(!concrete.matches("com.ab"));
}

/// Matching restated naively, with allocation.
fn reference(policy: MatchPolicy, pattern: &str, uri: &str) -> bool {
    match policy {
        MatchPolicy::Exact => pattern == uri,
        MatchPolicy::Prefix => {
            uri.len() >= pattern.len() && uri.as_bytes()[..pattern.len()] == *pattern.as_bytes()
        }
        MatchPolicy::Wildcard => {
            let want: Vec<&str> = pattern.split('.').collect();
            let have: Vec<&str> = uri.split('.').collect();
            want.len() == have.len() && want.iter().zip(&have).all(|(w, h)| w.is_empty() || w == h)
        }
    }
}

/// Dotted strings over a tiny alphabet, so that patterns and URIs collide.
fn dotted(max_components: usize) -> impl Strategy<Value = String> {
    let component = prop::sample::select(vec!["", "a", "b", "ab", "ba", "a_1"]);
    prop::collection::vec(component, 1..=max_components).prop_map(|parts| parts.join("."))
}

fn policy() -> impl Strategy<Value = MatchPolicy> {
    prop::sample::select(vec![
        MatchPolicy::Exact,
        MatchPolicy::Prefix,
        MatchPolicy::Wildcard,
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn matches_agrees_with_a_naive_reference(
        policy in policy(),
        pattern in dotted(5),
        uri in dotted(5),
    ) {
        if let Ok(compiled) = UriPattern::parse(&pattern, policy, UriCheck::Strict) {
            prop_assert_eq!(compiled.matches(&uri), reference(policy, &pattern, &uri));
        }
    }

    #[test]
    fn every_pattern_matches_what_it_was_built_from(uri in dotted(6)) {
        if let Ok(concrete) = Uri::parse(&uri, UriCheck::Strict) {
            for policy in [MatchPolicy::Exact, MatchPolicy::Prefix, MatchPolicy::Wildcard] {
                prop_assert!(pattern(concrete.as_str(), policy).matches(&uri));
            }
        }
    }
}
