//! The three indexes of a subscription [`Table`](super::subscriptions::Table),
//! one per match policy, so a publish never scans every pattern.
//!
//! Each index is copy-on-write: the table holds it behind an `Arc`, and a
//! change goes through `Arc::make_mut`, which clones only what the last
//! published snapshot still shares — one exact shard, or the path from the
//! root to the changed node of a tree — and leaves everything else shared.
//! Readers never see a half-made change: the writer publishes a whole new
//! table when it is done.

mod exact;
mod prefix;
mod wildcard;

pub(crate) use exact::ExactIndex;
pub(crate) use prefix::PrefixIndex;
pub(crate) use wildcard::WildcardIndex;

/// A subscription with no cores, for the indexes' tests.
#[cfg(test)]
fn test_sub(
    uri: &str,
    policy: ringbar_protocol::uri::MatchPolicy,
    seq: u64,
) -> std::sync::Arc<super::subscriptions::Subscription> {
    use ringbar_protocol::uri::{UriCheck, UriPattern};
    std::sync::Arc::new(super::subscriptions::Subscription {
        id: ringbar_protocol::id::SubscriptionId::new(seq + 1).unwrap(),
        pattern: UriPattern::parse(uri, policy, UriCheck::Strict).unwrap(),
        created_seq: seq,
        created: std::time::SystemTime::UNIX_EPOCH,
        cores: super::subscriptions::CoreSet::EMPTY,
    })
}

/// The URIs of `found`, for assertions.
#[cfg(test)]
fn uris<'a>(found: &[&'a super::subscriptions::Subscription]) -> Vec<&'a str> {
    found.iter().map(|s| s.pattern.uri()).collect()
}
