//! A realm's `store`: the event history kept in memory.

use ringbar_engine::config::EventHistory;
use ringbar_protocol::uri::{MatchPolicy, UriCheck, UriPattern};
use serde_json::Value;

use super::Converter;
use crate::config::diag::Path;

/// Events kept per `event-history` entry when neither it nor the store
/// says (Crossbar.io's default).
const DEFAULT_HISTORY_LIMIT: usize = 100;

impl Converter<'_> {
    /// A realm's `store` (`{"type": "memory", "limit": N, "event-history":
    /// [{"uri", "match", "limit"}]}`): the topics whose events it keeps.
    pub(super) fn store(&mut self, store: Option<&Value>, path: &Path) -> Vec<EventHistory> {
        let Some(store) = store else {
            return Vec::new();
        };
        let Some(object) = store.as_object() else {
            self.diag.error(
                path,
                "must be an object, e.g. {\"type\": \"memory\", \"event-history\": [...]}",
            );
            return Vec::new();
        };
        match object.get("type").and_then(Value::as_str) {
            Some("memory") => {}
            Some(other) => {
                self.diag.error(
                    &path.key("type"),
                    format!("\"{other}\" stores are not supported: use \"memory\""),
                );
                return Vec::new();
            }
            None => {
                self.diag
                    .error(&path.key("type"), "missing: use \"memory\"");
                return Vec::new();
            }
        }
        for key in object.keys() {
            if !matches!(key.as_str(), "type" | "limit" | "event-history") {
                self.diag
                    .warn(&path.key(key), "not supported by ringbar; ignored");
            }
        }
        let default_limit = self
            .history_limit(object.get("limit"), &path.key("limit"))
            .unwrap_or(DEFAULT_HISTORY_LIMIT);
        let Some(entries) = object.get("event-history") else {
            return Vec::new();
        };
        let Some(entries) = entries.as_array() else {
            self.diag.error(
                &path.key("event-history"),
                "must be a list of {\"uri\", \"match\", \"limit\"}",
            );
            return Vec::new();
        };
        entries
            .iter()
            .enumerate()
            .filter_map(|(i, entry)| {
                self.history_entry(entry, &path.key("event-history").index(i), default_limit)
            })
            .collect()
    }

    fn history_entry(
        &mut self,
        entry: &Value,
        path: &Path,
        default_limit: usize,
    ) -> Option<EventHistory> {
        let Some(uri) = entry.get("uri").and_then(Value::as_str) else {
            self.diag
                .error(&path.key("uri"), "missing: the topic whose events are kept");
            return None;
        };
        let match_policy = match entry.get("match") {
            None => MatchPolicy::Exact,
            Some(m) => match m.as_str().and_then(|m| m.parse::<MatchPolicy>().ok()) {
                Some(policy) => policy,
                None => {
                    self.diag.error(
                        &path.key("match"),
                        format!("{m} is not one of exact, prefix, wildcard"),
                    );
                    return None;
                }
            },
        };
        if let Err(e) = UriPattern::parse(uri, match_policy, UriCheck::Loose) {
            self.diag.error(
                &path.key("uri"),
                format!(
                    "\"{uri}\" is not a valid {} URI ({e})",
                    match_policy.as_str()
                ),
            );
            return None;
        }
        let limit = match entry.get("limit") {
            None => default_limit,
            Some(limit) => self.history_limit(Some(limit), &path.key("limit"))?,
        };
        Some(EventHistory {
            uri: uri.to_owned(),
            match_policy,
            limit,
        })
    }

    fn history_limit(&mut self, limit: Option<&Value>, path: &Path) -> Option<usize> {
        let limit = limit?;
        match limit.as_u64().and_then(|n| usize::try_from(n).ok()) {
            Some(n @ 1..=1_000_000) => Some(n),
            _ => {
                self.diag.error(
                    path,
                    format!("{limit} is not an event count (1 to 1,000,000)"),
                );
                None
            }
        }
    }
}
