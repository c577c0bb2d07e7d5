//! WAMP URIs: validation by the spec's strict and loose rules, and the three
//! matching policies of pattern-based subscriptions and registrations.
//!
//! Parse, don't validate: a [`Uri`] or [`UriPattern`] exists only if it is
//! valid, so the broker and dealer never check again. Matching and
//! [`Uri::check`] never allocate, for the publish and call paths.
//!
//! Decisions (from the spec's pattern-based subscription/registration text
//! and Crossbar.io's broker, dealer and `UriObservationMap`):
//! - Prefix matching is a plain string prefix, not aligned to components:
//!   `com.myapp.topic` matches `com.myapp.topic123` and
//!   `com.myapp.topic.emergency-low` alike, as the spec's examples show. A
//!   pattern that wants whole components ends in `.` (`com.myapp.`).
//! - A prefix pattern may have an empty last component, so `com.myapp.` and
//!   the empty prefix are valid; the empty prefix matches every URI.
//! - A wildcard pattern may have any component empty, the whole pattern
//!   included: an empty component matches exactly one component of any
//!   content, so `""` matches every one-component URI and `com..` every
//!   three-component URI starting `com`. A wildcard pattern without empty
//!   components matches like an exact one.
//! - The `wamp.` namespace is reserved by router policy, not by these types:
//!   see [`Uri::is_reserved_wamp`].

#![forbid(unsafe_code)]

mod pattern;
mod validate;

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

pub use pattern::{MatchPolicy, UnknownMatchPolicy, UriPattern};
pub use validate::{UriCheck, UriError};

use validate::EmptyComponents;

/// A valid, concrete WAMP URI: one or more non-empty components.
///
/// Stored as `Arc<str>`: a URI is parsed once and then held by many tables
/// (subscriptions, registrations, per-core views, caches) on many cores, so a
/// clone is a reference-count bump and the type is `Send + Sync`. It compares,
/// hashes and orders like its string, and borrows as `&str`, so maps keyed by
/// `Uri` are looked up with a plain `&str` from a decoded message.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uri(Arc<str>);

impl Uri {
    /// Validates `uri` by `rule` and keeps it.
    pub fn parse(uri: &str, rule: UriCheck) -> Result<Self, UriError> {
        Self::check(uri, rule)?;
        Ok(Self(Arc::from(uri)))
    }

    /// Validates `uri` by `rule` without allocating, for the publish and call
    /// paths, which check a topic or procedure but need not keep it.
    pub fn check(uri: &str, rule: UriCheck) -> Result<(), UriError> {
        validate::check(uri, rule, EmptyComponents::Forbidden)
    }

    /// The URI as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The components, in order; never empty strings.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('.')
    }

    /// How many components the URI has, which is what a wildcard index is
    /// keyed by.
    pub fn component_count(&self) -> usize {
        component_count(&self.0)
    }

    /// Whether the first component is `wamp`, which the spec reserves for the
    /// protocol's own URIs. Whether that forbids an action is router policy.
    pub fn is_reserved_wamp(&self) -> bool {
        self.components().next() == Some("wamp")
    }
}

/// Components in `uri`, counting empty ones: one more than its dots.
pub(crate) fn component_count(uri: &str) -> usize {
    memchr::memchr_iter(b'.', uri.as_bytes()).count() + 1
}

impl fmt::Debug for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Uri").field(&self.as_str()).finish()
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Uri {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Uri {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for Uri {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for Uri {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl From<Uri> for Arc<str> {
    fn from(uri: Uri) -> Self {
        uri.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn parse_keeps_the_string() {
        let uri = Uri::parse("com.myapp.mytopic1", UriCheck::Strict).unwrap();
        assert_eq!(uri.as_str(), "com.myapp.mytopic1");
        assert_eq!(uri, "com.myapp.mytopic1");
        assert_eq!(uri.to_string(), "com.myapp.mytopic1");
        assert_eq!(format!("{uri:?}"), r#"Uri("com.myapp.mytopic1")"#);
        assert_eq!(uri.component_count(), 3);
        assert_eq!(
            uri.components().collect::<Vec<_>>(),
            ["com", "myapp", "mytopic1"]
        );
    }

    #[test]
    fn maps_keyed_by_uri_are_looked_up_by_str() {
        let uri = Uri::parse("com.a", UriCheck::Strict).unwrap();
        let map = HashMap::from([(uri, 1)]);
        assert_eq!(map.get("com.a"), Some(&1));
    }

    #[test]
    fn reserved_wamp_is_the_first_component_only() {
        let reserved = |s| Uri::parse(s, UriCheck::Strict).unwrap().is_reserved_wamp();
        assert!(reserved("wamp"));
        assert!(reserved("wamp.error.not_authorized"));
        assert!(!reserved("wampx.error"));
        assert!(!reserved("com.wamp"));
    }
}
