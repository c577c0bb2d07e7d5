//! Prefix subscriptions: a byte radix tree (a trie with single-child chains
//! merged into one edge), walked once along the topic.
//!
//! A publish walks from the root down the edges the topic starts with,
//! collecting each node's subscription on the way: every prefix of the
//! topic that is a pattern, and nothing else, in `O(topic length)` byte
//! comparisons however many patterns there are. Prefix patterns are plain
//! string prefixes (see `ringbar_protocol::uri`), so the tree is over bytes,
//! not components.
//!
//! A change copies the nodes on the path from the root to the changed node
//! (each with its list of children, as `Arc`s). Nothing here recurses: the
//! depth is the number of nested patterns, which a client chooses, so walks,
//! changes and even `Drop` use loops.

use std::mem;
use std::sync::Arc;

use crate::tables::subscriptions::Subscription;

/// Prefix subscriptions by URI.
#[derive(Clone, Default)]
pub(crate) struct PrefixIndex {
    root: Node,
    len: usize,
}

/// A node: the bytes of the edge into it, the subscription whose pattern
/// ends here, and its children sorted by the first byte of their edge.
///
/// Outside the root, a node has a subscription or at least two children,
/// and every edge is non-empty.
#[derive(Clone, Default)]
struct Node {
    label: Box<[u8]>,
    sub: Option<Arc<Subscription>>,
    children: Vec<Arc<Node>>,
}

impl PrefixIndex {
    /// How many subscriptions the index holds.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The subscription whose pattern is exactly `uri`.
    pub(crate) fn find(&self, uri: &str) -> Option<&Arc<Subscription>> {
        let mut node = &self.root;
        let mut rest = uri.as_bytes();
        while let Some(&first) = rest.first() {
            let child = node.child(first)?;
            rest = rest.strip_prefix(&*child.label)?;
            node = child;
        }
        node.sub.as_ref()
    }

    /// Appends every subscription whose pattern `topic` starts with, longest
    /// pattern first.
    pub(crate) fn matches<'a>(&'a self, topic: &str, out: &mut Vec<&'a Subscription>) {
        let start = out.len();
        let mut node = &self.root;
        let mut rest = topic.as_bytes();
        loop {
            if let Some(sub) = &node.sub {
                out.push(sub);
            }
            let Some(child) = rest.first().and_then(|&first| node.child(first)) else {
                break;
            };
            let Some(after) = rest.strip_prefix(&*child.label) else {
                break;
            };
            rest = after;
            node = child;
        }
        // Found shortest first.
        out[start..].reverse();
    }

    /// Adds `sub`, or replaces the subscription with its URI; returns the
    /// one replaced.
    pub(crate) fn insert(&mut self, sub: Arc<Subscription>) -> Option<Arc<Subscription>> {
        let key = Arc::clone(&sub);
        let mut rest = key.pattern.uri().as_bytes();
        let mut node = &mut self.root;
        loop {
            let Some(&first) = rest.first() else {
                let old = node.sub.replace(sub);
                if old.is_none() {
                    self.len += 1;
                }
                return old;
            };
            match node
                .children
                .binary_search_by_key(&first, |c| c.first_byte())
            {
                Err(at) => {
                    let leaf = Node {
                        label: rest.into(),
                        sub: Some(sub),
                        children: Vec::new(),
                    };
                    node.children.insert(at, Arc::new(leaf));
                    self.len += 1;
                    return None;
                }
                Ok(at) => {
                    let child = Arc::make_mut(&mut node.children[at]);
                    let common = common_len(&child.label, rest);
                    if common < child.label.len() {
                        child.split(common);
                    }
                    rest = &rest[common..];
                    node = child;
                }
            }
        }
    }

    /// Removes the subscription for `uri`, merging nodes left with neither
    /// a subscription nor a choice of children.
    pub(crate) fn remove(&mut self, uri: &str) -> Option<Arc<Subscription>> {
        let path = self.path_to(uri)?;
        let Some((&last, upper)) = path.split_last() else {
            let old = self.root.sub.take();
            self.len -= usize::from(old.is_some());
            return old;
        };
        let mut parent = &mut self.root;
        for &at in upper {
            parent = Arc::make_mut(&mut parent.children[at]);
        }
        let target = Arc::make_mut(&mut parent.children[last]);
        let old = target.sub.take();
        match target.children.len() {
            0 => {
                parent.children.remove(last);
            }
            1 => target.absorb_only_child(),
            _ => {}
        }
        // Only the parent can have lost a needed child; the grandparent
        // still has the parent, merged or not.
        if !upper.is_empty() && parent.sub.is_none() && parent.children.len() == 1 {
            parent.absorb_only_child();
        }
        self.len -= usize::from(old.is_some());
        old
    }

    /// Calls `visit` with every subscription, in no particular order, and
    /// checks the tree's shape in debug builds.
    pub(crate) fn for_each(&self, visit: &mut dyn FnMut(&Arc<Subscription>)) {
        let mut stack = vec![&self.root];
        while let Some(node) = stack.pop() {
            if let Some(sub) = &node.sub {
                visit(sub);
            }
            debug_assert!(
                node.children
                    .is_sorted_by(|a, b| a.first_byte() < b.first_byte()),
                "children sorted by distinct first bytes"
            );
            for child in &node.children {
                debug_assert!(!child.label.is_empty(), "empty edge below the root");
                debug_assert!(
                    child.sub.is_some() || child.children.len() >= 2,
                    "unmerged node below the root"
                );
                stack.push(child);
            }
        }
    }

    /// The child positions from the root to the node holding `uri`'s
    /// subscription, without copying anything.
    fn path_to(&self, uri: &str) -> Option<Vec<usize>> {
        let mut path = Vec::new();
        let mut node = &self.root;
        let mut rest = uri.as_bytes();
        while let Some(&first) = rest.first() {
            let at = node
                .children
                .binary_search_by_key(&first, |c| c.first_byte())
                .ok()?;
            let child = node.children.get(at)?;
            rest = rest.strip_prefix(&*child.label)?;
            path.push(at);
            node = child;
        }
        node.sub.as_ref()?;
        Some(path)
    }
}

impl Node {
    fn first_byte(&self) -> u8 {
        self.label.first().copied().unwrap_or_default()
    }

    fn child(&self, first: u8) -> Option<&Arc<Node>> {
        let at = self
            .children
            .binary_search_by_key(&first, |c| c.first_byte())
            .ok()?;
        self.children.get(at)
    }

    /// Cuts the edge after `at` bytes: this node keeps the head, a new only
    /// child takes the tail with everything this node held.
    fn split(&mut self, at: usize) {
        let (head, tail) = self.label.split_at(at);
        let (head, tail): (Box<[u8]>, Box<[u8]>) = (head.into(), tail.into());
        let below = Node {
            label: tail,
            sub: self.sub.take(),
            children: mem::take(&mut self.children),
        };
        self.label = head;
        self.children = vec![Arc::new(below)];
    }

    /// Joins this node (which has no subscription) with its only child.
    fn absorb_only_child(&mut self) {
        debug_assert!(self.sub.is_none() && self.children.len() == 1);
        let Some(child) = self.children.pop() else {
            return;
        };
        let mut child = Arc::unwrap_or_clone(child);
        let mut label = Vec::with_capacity(self.label.len() + child.label.len());
        label.extend_from_slice(&self.label);
        label.extend_from_slice(&child.label);
        self.label = label.into();
        self.sub = child.sub.take();
        self.children = mem::take(&mut child.children);
    }
}

impl Drop for Node {
    /// Frees a deep chain with a loop; the default drop would recurse once
    /// per level and could exhaust the stack.
    fn drop(&mut self) {
        let mut stack = mem::take(&mut self.children);
        while let Some(child) = stack.pop() {
            if let Some(mut node) = Arc::into_inner(child) {
                stack.append(&mut node.children);
            }
        }
    }
}

fn common_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::match_index::{test_sub, uris};
    use ringbar_protocol::uri::MatchPolicy::Prefix;

    fn matches<'a>(index: &'a PrefixIndex, topic: &str) -> Vec<&'a str> {
        let mut out = Vec::new();
        index.matches(topic, &mut out);
        uris(&out)
    }

    fn check_shape(index: &PrefixIndex) -> usize {
        let mut n = 0;
        index.for_each(&mut |_| n += 1);
        assert_eq!(n, index.len());
        n
    }

    #[test]
    fn edges_split_and_merge() {
        let mut index = PrefixIndex::default();
        for (seq, uri) in ["com.a", "com.b", "com", "com.abc", ""].iter().enumerate() {
            assert!(index.insert(test_sub(uri, Prefix, seq as u64)).is_none());
            check_shape(&index);
        }
        assert_eq!(matches(&index, "com.abcd"), ["com.abc", "com.a", "com", ""]);
        assert_eq!(matches(&index, "com.b"), ["com.b", "com", ""]);
        assert_eq!(matches(&index, "co"), [""]);
        assert_eq!(matches(&index, "org"), [""]);
        assert_eq!(index.find("com.a").map(|s| s.created_seq), Some(0));
        assert!(index.find("com.").is_none());
        assert!(index.find("co").is_none());

        for uri in ["com", "com.zzz", "com.a", "", "com.b"] {
            index.remove(uri);
            check_shape(&index);
        }
        assert_eq!(index.len(), 1);
        assert_eq!(matches(&index, "com.abc.d"), ["com.abc"]);
        assert!(index.remove("com.abc").is_some());
        assert_eq!(check_shape(&index), 0);
        assert!(index.root.children.is_empty());
    }

    #[test]
    fn spec_examples() {
        let mut index = PrefixIndex::default();
        index.insert(test_sub("com.myapp.topic", Prefix, 0));
        for topic in [
            "com.myapp.topic.emergency.11",
            "com.myapp.topic123",
            "com.myapp.topic",
        ] {
            assert_eq!(matches(&index, topic), ["com.myapp.topic"], "{topic}");
        }
        assert!(matches(&index, "com.myapp.topi").is_empty());
        assert!(matches(&index, "com.myapp.other").is_empty());
    }

    #[test]
    fn a_change_copies_one_path() {
        let mut index = PrefixIndex::default();
        index.insert(test_sub("a.x", Prefix, 0));
        index.insert(test_sub("b.x", Prefix, 1));
        let before = index.clone();
        index.insert(test_sub("a.y", Prefix, 2));
        assert!(Arc::ptr_eq(
            &before.root.children[1],
            &index.root.children[1]
        ));
        assert!(!Arc::ptr_eq(
            &before.root.children[0],
            &index.root.children[0]
        ));
        assert_eq!(matches(&before, "a.y"), Vec::<&str>::new());
        assert_eq!(matches(&index, "a.y"), ["a.y"]);
    }

    #[test]
    fn a_deep_chain_drops_without_recursion() {
        let mut index = PrefixIndex::default();
        let mut uri = String::new();
        for seq in 0..3000 {
            uri.push('a');
            index.insert(test_sub(&uri, Prefix, seq));
        }
        assert_eq!(matches(&index, &uri).len(), 3000);
        assert_eq!(matches(&index, &uri)[0].len(), 3000);
        drop(index);
    }
}
