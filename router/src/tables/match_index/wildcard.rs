//! Wildcard subscriptions: per component count, a trie over components with
//! a slot for the empty (any) component, as nats-server's sublist has for
//! `*`.
//!
//! A wildcard pattern matches only topics with as many components as it
//! has, so a publish splits the topic into components (into a stack array,
//! no allocation), picks the trie for that count and walks it, following
//! both the literal child and the any child at each level. Patterns of more
//! than [`MAX_TRIE_COMPONENTS`] components are kept in a plain list instead
//! and checked one by one, only for topics that long: that bounds the stack
//! array and the recursion depth, and such patterns are rare.
//!
//! A change copies the nodes on the path of the pattern; each node's map of
//! literal children is a [`PersistentMap`], so copying one costs O(log
//! fan-out), not the fan-out.

use std::mem;
use std::sync::Arc;

use crate::tables::persistent::PersistentMap;
use crate::tables::subscriptions::Subscription;

/// The most components of a pattern kept in a trie, and of a topic matched
/// against the tries; longer ones take the slower list path. It sizes the
/// stack array and the recursion (see the module doc): a speed choice, not
/// a bound on peers, since longer patterns still match.
pub(crate) const MAX_TRIE_COMPONENTS: usize = 32;

/// Wildcard subscriptions by URI.
#[derive(Clone, Default)]
pub(crate) struct WildcardIndex {
    /// The trie for patterns of `n` components at `n` (0 stays empty).
    by_count: Vec<Option<Arc<Node>>>,
    /// Patterns of more than [`MAX_TRIE_COMPONENTS`] components.
    long: Vec<Arc<Subscription>>,
    len: usize,
}

/// A trie node; a subscription sits only at depth = component count.
#[derive(Clone, Default)]
struct Node {
    literal: PersistentMap<Box<str>, Arc<Node>>,
    any: Option<Arc<Node>>,
    sub: Option<Arc<Subscription>>,
}

impl WildcardIndex {
    /// How many subscriptions the index holds.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The subscription whose pattern is exactly `uri`.
    pub(crate) fn find(&self, uri: &str) -> Option<&Arc<Subscription>> {
        let count = component_count(uri);
        if count > MAX_TRIE_COMPONENTS {
            return self.long.iter().find(|s| s.pattern.uri() == uri);
        }
        let mut node = self.by_count.get(count)?.as_ref()?;
        for component in uri.split('.') {
            node = if component.is_empty() {
                node.any.as_ref()?
            } else {
                node.literal.get(component)?
            };
        }
        node.sub.as_ref()
    }

    /// Appends every subscription whose pattern matches `topic`, oldest
    /// first (by `created_seq`).
    pub(crate) fn matches<'a>(&'a self, topic: &str, out: &mut Vec<&'a Subscription>) {
        if self.len == 0 {
            return;
        }
        let start = out.len();
        let mut components = [""; MAX_TRIE_COMPONENTS];
        let mut count = 0;
        for component in topic.split('.') {
            match components.get_mut(count) {
                Some(slot) => *slot = component,
                None => {
                    self.matches_long(topic, out);
                    out[start..].sort_unstable_by_key(|s| s.created_seq);
                    return;
                }
            }
            count += 1;
        }
        if let Some(Some(root)) = self.by_count.get(count) {
            collect(root, &components[..count], out);
        }
        out[start..].sort_unstable_by_key(|s| s.created_seq);
    }

    /// Adds `sub`, or replaces the subscription with its URI; returns the
    /// one replaced.
    pub(crate) fn insert(&mut self, sub: Arc<Subscription>) -> Option<Arc<Subscription>> {
        let count = sub.pattern.component_count();
        if count > MAX_TRIE_COMPONENTS {
            let uri = sub.pattern.uri();
            if let Some(slot) = self.long.iter_mut().find(|s| s.pattern.uri() == uri) {
                return Some(mem::replace(slot, sub));
            }
            self.long.push(sub);
            self.len += 1;
            return None;
        }
        if self.by_count.len() <= count {
            self.by_count.resize(count + 1, None);
        }
        let key = Arc::clone(&sub);
        let mut node = Arc::make_mut(self.by_count[count].get_or_insert_with(Arc::default));
        for component in key.pattern.uri().split('.') {
            let next = if component.is_empty() {
                node.any.get_or_insert_with(Arc::default)
            } else {
                node.literal.entry(component.into()).or_default()
            };
            node = Arc::make_mut(next);
        }
        let old = node.sub.replace(sub);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Removes the subscription for `uri`, pruning nodes left empty.
    pub(crate) fn remove(&mut self, uri: &str) -> Option<Arc<Subscription>> {
        self.find(uri)?;
        let count = component_count(uri);
        let old = if count > MAX_TRIE_COMPONENTS {
            let at = self.long.iter().position(|s| s.pattern.uri() == uri)?;
            Some(self.long.swap_remove(at))
        } else {
            let slot = self.by_count.get_mut(count)?;
            let root = slot.as_mut()?;
            let components: Vec<&str> = uri.split('.').collect();
            let old = remove_at(root, &components);
            if root.is_empty() {
                *slot = None;
            }
            old
        };
        self.len -= usize::from(old.is_some());
        old
    }

    /// Calls `visit` with every subscription, in no particular order, and
    /// checks the tries' shape in debug builds.
    pub(crate) fn for_each(&self, visit: &mut dyn FnMut(&Arc<Subscription>)) {
        for (count, root) in self.by_count.iter().enumerate() {
            if let Some(root) = root {
                walk(root, count, visit);
            }
        }
        for sub in &self.long {
            debug_assert!(sub.pattern.component_count() > MAX_TRIE_COMPONENTS);
            visit(sub);
        }
    }

    fn matches_long<'a>(&'a self, topic: &str, out: &mut Vec<&'a Subscription>) {
        out.extend(
            self.long
                .iter()
                .filter(|s| s.pattern.matches(topic))
                .map(|s| &**s),
        );
    }
}

impl Node {
    fn is_empty(&self) -> bool {
        self.sub.is_none() && self.any.is_none() && self.literal.is_empty()
    }
}

/// Depth-first over the literal and the any child; recursion is bounded by
/// [`MAX_TRIE_COMPONENTS`].
fn collect<'a>(node: &'a Node, components: &[&str], out: &mut Vec<&'a Subscription>) {
    let Some((head, tail)) = components.split_first() else {
        if let Some(sub) = &node.sub {
            out.push(sub);
        }
        return;
    };
    if !node.literal.is_empty()
        && let Some(next) = node.literal.get(*head)
    {
        collect(next, tail, out);
    }
    if let Some(next) = &node.any {
        collect(next, tail, out);
    }
}

fn remove_at(node: &mut Arc<Node>, components: &[&str]) -> Option<Arc<Subscription>> {
    let node = Arc::make_mut(node);
    let Some((head, tail)) = components.split_first() else {
        return node.sub.take();
    };
    if head.is_empty() {
        let child = node.any.as_mut()?;
        let old = remove_at(child, tail);
        if child.is_empty() {
            node.any = None;
        }
        old
    } else {
        let child = node.literal.get_mut(*head)?;
        let old = remove_at(child, tail);
        if child.is_empty() {
            node.literal.remove(*head);
        }
        old
    }
}

fn walk(node: &Node, depth_left: usize, visit: &mut dyn FnMut(&Arc<Subscription>)) {
    debug_assert!(!node.is_empty(), "empty wildcard trie node kept");
    if let Some(sub) = &node.sub {
        debug_assert_eq!(depth_left, 0, "subscription above the leaf level");
        visit(sub);
    }
    for next in node.literal.values().chain(&node.any) {
        walk(next, depth_left.saturating_sub(1), visit);
    }
}

fn component_count(uri: &str) -> usize {
    uri.bytes().filter(|&b| b == b'.').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::match_index::{test_sub, uris};
    use ringbar_protocol::uri::MatchPolicy::Wildcard;

    fn matches<'a>(index: &'a WildcardIndex, topic: &str) -> Vec<&'a str> {
        let mut out = Vec::new();
        index.matches(topic, &mut out);
        uris(&out)
    }

    #[test]
    fn spec_example() {
        let mut index = WildcardIndex::default();
        index.insert(test_sub("com.myapp..userevent", Wildcard, 0));
        assert_eq!(
            matches(&index, "com.myapp.foo.userevent"),
            ["com.myapp..userevent"]
        );
        assert_eq!(
            matches(&index, "com.myapp.bar.userevent"),
            ["com.myapp..userevent"]
        );
        assert!(matches(&index, "com.myapp.foo.bar.userevent").is_empty());
        assert!(matches(&index, "com.myapp.userevent").is_empty());
        assert!(matches(&index, "com.myapp.foo.other").is_empty());
    }

    #[test]
    fn oldest_first_and_pruned_on_remove() {
        let mut index = WildcardIndex::default();
        index.insert(test_sub("a.b.c", Wildcard, 3));
        index.insert(test_sub("..", Wildcard, 1));
        index.insert(test_sub("a..c", Wildcard, 2));
        index.insert(test_sub(".b.", Wildcard, 0));
        index.insert(test_sub("", Wildcard, 4));
        assert_eq!(matches(&index, "a.b.c"), [".b.", "..", "a..c", "a.b.c"]);
        assert_eq!(matches(&index, "x"), [""]);
        assert_eq!(index.find("a..c").map(|s| s.created_seq), Some(2));
        assert!(index.find("a...").is_none());
        for uri in ["..", "a..c", ".b.", "a.b.c"] {
            assert!(index.remove(uri).is_some(), "{uri}");
            index.for_each(&mut |_| {});
        }
        assert!(index.by_count[3].is_none());
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn long_patterns_take_the_list() {
        let long = |last: &str| {
            let mut parts = vec!["x"; MAX_TRIE_COMPONENTS + 7];
            parts.push(last);
            parts.join(".")
        };
        let mut index = WildcardIndex::default();
        let pattern = long("");
        index.insert(test_sub(&pattern, Wildcard, 0));
        index.insert(test_sub(&long("y"), Wildcard, 1));
        assert_eq!(index.long.len(), 2);
        assert_eq!(matches(&index, &long("y")), [pattern.as_str(), &long("y")]);
        assert_eq!(matches(&index, &long("z")), [pattern.as_str()]);
        assert!(matches(&index, "x.y").is_empty());
        assert!(index.find(&pattern).is_some());
        assert!(index.remove(&pattern).is_some());
        assert_eq!(matches(&index, &long("y")), [long("y").as_str()]);
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn exactly_the_trie_limit_uses_the_trie() {
        let pattern = vec![""; MAX_TRIE_COMPONENTS].join(".");
        let topic = vec!["t"; MAX_TRIE_COMPONENTS].join(".");
        let mut index = WildcardIndex::default();
        index.insert(test_sub(&pattern, Wildcard, 0));
        assert!(index.long.is_empty());
        assert_eq!(matches(&index, &topic), [pattern.as_str()]);
    }

    #[test]
    fn a_change_copies_one_path() {
        let mut index = WildcardIndex::default();
        index.insert(test_sub("a.x", Wildcard, 0));
        index.insert(test_sub("b.x", Wildcard, 1));
        let before = index.clone();
        index.insert(test_sub("a.y", Wildcard, 2));
        let (old, new) = (
            before.by_count[2].as_ref().unwrap(),
            index.by_count[2].as_ref().unwrap(),
        );
        assert!(Arc::ptr_eq(&old.literal["b"], &new.literal["b"]));
        assert!(!Arc::ptr_eq(&old.literal["a"], &new.literal["a"]));
        assert!(matches(&before, "a.y").is_empty());
        assert_eq!(matches(&index, "a.y"), ["a.y"]);
    }
}
