//! URI patterns: a URI plus the match policy of a SUBSCRIBE or REGISTER.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use thiserror::Error;

use super::validate::{self, EmptyComponents, UriCheck, UriError};
use super::{Uri, component_count};

/// How a subscription's topic or a registration's procedure is matched
/// (`SUBSCRIBE.Options.match`, `REGISTER.Options.match`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MatchPolicy {
    /// `"exact"`, the default when the option is absent: the URIs are equal.
    #[default]
    Exact,
    /// `"prefix"`: the URI starts with the pattern, as strings.
    Prefix,
    /// `"wildcard"`: empty pattern components match any one component.
    Wildcard,
}

/// A `match` option other than `exact`, `prefix` or `wildcard`. A protocol
/// error rather than an invalid URI, so a type of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Error)]
#[error("unknown match policy: expected \"exact\", \"prefix\" or \"wildcard\"")]
pub struct UnknownMatchPolicy;

/// A validated URI pattern: what a subscription or registration matches.
///
/// Validity depends on the policy, following Crossbar.io: an exact pattern
/// is a concrete URI (no empty component); a prefix pattern may have an empty
/// last component (`com.myapp.`, or the empty prefix); a wildcard pattern may
/// have any component empty. Stored as `Arc<str>` like [`Uri`], for cheap
/// clones across tables and cores.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UriPattern {
    policy: MatchPolicy,
    uri: Arc<str>,
}

impl MatchPolicy {
    /// The option's wire value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Prefix => "prefix",
            Self::Wildcard => "wildcard",
        }
    }
}

impl FromStr for MatchPolicy {
    type Err = UnknownMatchPolicy;

    /// Parses the option's wire value; case-sensitive, as the spec spells it.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "exact" => Ok(Self::Exact),
            "prefix" => Ok(Self::Prefix),
            "wildcard" => Ok(Self::Wildcard),
            _ => Err(UnknownMatchPolicy),
        }
    }
}

impl fmt::Display for MatchPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl UriPattern {
    /// Validates `uri` as a pattern for `policy` by `rule` and keeps it.
    pub fn parse(uri: &str, policy: MatchPolicy, rule: UriCheck) -> Result<Self, UriError> {
        let empty = match policy {
            MatchPolicy::Exact => EmptyComponents::Forbidden,
            MatchPolicy::Prefix => EmptyComponents::LastOnly,
            MatchPolicy::Wildcard => EmptyComponents::Allowed,
        };
        validate::check(uri, rule, empty)?;
        Ok(Self {
            policy,
            uri: Arc::from(uri),
        })
    }

    /// The exact pattern for a URI already validated; shares its storage.
    pub fn exact(uri: Uri) -> Self {
        Self {
            policy: MatchPolicy::Exact,
            uri: uri.0,
        }
    }

    /// The match policy.
    pub const fn policy(&self) -> MatchPolicy {
        self.policy
    }

    /// The pattern's URI, possibly with empty components.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// How many components the pattern has, counting empty ones; a wildcard
    /// pattern matches only URIs with this many.
    pub fn component_count(&self) -> usize {
        component_count(&self.uri)
    }

    /// Whether `uri` (a topic published to or a procedure called) matches.
    /// Never allocates.
    pub fn matches(&self, uri: &str) -> bool {
        match self.policy {
            MatchPolicy::Exact => *self.uri == *uri,
            MatchPolicy::Prefix => uri.starts_with(&*self.uri),
            MatchPolicy::Wildcard => wildcard_matches(&self.uri, uri),
        }
    }
}

impl From<Uri> for UriPattern {
    fn from(uri: Uri) -> Self {
        Self::exact(uri)
    }
}

/// Same number of components, and each non-empty pattern component equals
/// the URI's component at that position (an empty one matches anything).
fn wildcard_matches(pattern: &str, uri: &str) -> bool {
    let mut pattern_components = pattern.split('.');
    let mut uri_components = uri.split('.');
    loop {
        match (pattern_components.next(), uri_components.next()) {
            (Some(want), Some(have)) => {
                if !want.is_empty() && want != have {
                    return false;
                }
            }
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(uri: &str, policy: MatchPolicy) -> UriPattern {
        UriPattern::parse(uri, policy, UriCheck::Strict).unwrap()
    }

    #[test]
    fn policy_wire_values() {
        for policy in [
            MatchPolicy::Exact,
            MatchPolicy::Prefix,
            MatchPolicy::Wildcard,
        ] {
            assert_eq!(policy.as_str().parse(), Ok(policy));
            assert_eq!(policy.to_string(), policy.as_str());
        }
        assert_eq!("Exact".parse::<MatchPolicy>(), Err(UnknownMatchPolicy));
        assert_eq!("".parse::<MatchPolicy>(), Err(UnknownMatchPolicy));
        assert_eq!(MatchPolicy::default(), MatchPolicy::Exact);
    }

    #[test]
    fn exact_from_uri_shares_storage() {
        let uri = Uri::parse("com.a", UriCheck::Strict).unwrap();
        let exact = UriPattern::from(uri.clone());
        assert!(Arc::ptr_eq(&exact.uri, &uri.0));
        assert_eq!(exact, pattern("com.a", MatchPolicy::Exact));
    }

    #[test]
    fn wildcard_counts_components() {
        let p = pattern("com..x", MatchPolicy::Wildcard);
        assert_eq!(p.component_count(), 3);
        assert!(p.matches("com.y.x"));
        assert!(!p.matches("com.x"));
        assert!(!p.matches("com.y.z.x"));
        assert!(pattern("", MatchPolicy::Wildcard).matches("com"));
        assert!(!pattern("", MatchPolicy::Wildcard).matches("com.a"));
    }
}
