//! The shared subscription table: ids, counts and core sets, snapshot
//! publication, matching order, and the indexes against a naive matcher.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use proptest::prelude::*;
use proptest::sample::{Index, select};
use ringbar_protocol::id::SubscriptionId;
use ringbar_protocol::uri::{MatchPolicy, UriCheck, UriPattern};
use ringbar_router::ids::MAX_ROUTER_SCOPE_ID;
use ringbar_router::tables::match_cache::MatchCache;
use ringbar_router::tables::subscriptions::{CoreId, CoreSet, Subscription, Subscriptions, Table};

use MatchPolicy::{Exact, Prefix, Wildcard};

/// The creation time the tables record (any fixed time will do).
const T0: std::time::SystemTime = std::time::SystemTime::UNIX_EPOCH;

fn pattern(uri: &str, policy: MatchPolicy) -> UriPattern {
    UriPattern::parse(uri, policy, UriCheck::Strict).unwrap()
}

fn matching(table: &Table, topic: &str) -> Vec<(String, MatchPolicy)> {
    let mut out = Vec::new();
    table.matches(topic, &mut out);
    out.iter()
        .map(|s| (s.pattern.uri().to_owned(), s.pattern.policy()))
        .collect()
}

fn owned(expected: &[(&str, MatchPolicy)]) -> Vec<(String, MatchPolicy)> {
    expected.iter().map(|&(u, p)| (u.to_owned(), p)).collect()
}

#[test]
fn the_table_is_shared_by_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Subscriptions>();
    shared::<Table>();
    shared::<Subscription>();
}

#[test]
fn same_uri_and_policy_is_one_subscription_across_cores() {
    let subs = Subscriptions::new(1);
    let (first, created) = subs.subscribe(pattern("com.a", Exact), 0, T0);
    assert!(created);
    let (second, created) = subs.subscribe(pattern("com.a", Exact), 1, T0);
    assert!(!created);
    assert_eq!(first.id, second.id);
    assert_eq!(first.created_seq, second.created_seq);
    assert_eq!(second.cores.iter().collect::<Vec<_>>(), [0, 1]);
    let (again, created) = subs.subscribe(pattern("com.a", Exact), 1, T0);
    assert!(!created && again.id == first.id);

    // Another policy is another subscription.
    let (prefix, created) = subs.subscribe(pattern("com.a", Prefix), 0, T0);
    let (wildcard, _) = subs.subscribe(pattern("com.a", Wildcard), 0, T0);
    assert!(created);
    let ids: HashSet<_> = [first.id, prefix.id, wildcard.id].into();
    assert_eq!(ids.len(), 3);
    assert_eq!(subs.len(), 3);
    assert_eq!(subs.lookup("com.a", Exact), Some(first.id));
    assert_eq!(subs.lookup("com.a", Prefix), Some(prefix.id));
    assert_eq!(subs.lookup("com.a", Wildcard), Some(wildcard.id));
    assert_eq!(subs.lookup("com.b", Exact), None);
    assert_eq!(subs.subscriber_count(first.id), Some(3));
    assert_eq!(subs.get(first.id).unwrap().pattern, pattern("com.a", Exact));
}

#[test]
fn created_and_deleted_flags() {
    let subs = Subscriptions::new(1);
    let (sub, created) = subs.subscribe(pattern("com.a", Exact), 0, T0);
    assert!(created);
    subs.subscribe(pattern("com.a", Exact), 0, T0);
    subs.subscribe(pattern("com.a", Exact), 3, T0);
    assert_eq!(subs.unsubscribe(sub.id, 0), Some(false));
    assert_eq!(subs.unsubscribe(sub.id, 3), Some(false));
    assert_eq!(subs.unsubscribe(sub.id, 0), Some(true));
    assert!(subs.is_empty());
    assert_eq!(subs.get(sub.id).map(|s| s.id), None);
    assert_eq!(subs.lookup("com.a", Exact), None);
    // Unknown now, and never known.
    assert_eq!(subs.unsubscribe(sub.id, 0), None);
    assert_eq!(subs.unsubscribe(SubscriptionId::new(1).unwrap(), 0), None);

    let (again, created) = subs.subscribe(pattern("com.a", Exact), 0, T0);
    assert!(created);
    assert!(again.created_seq > sub.created_seq);
}

#[test]
fn unsubscribe_from_a_core_without_subscribers_is_refused() {
    let subs = Subscriptions::new(1);
    let (sub, _) = subs.subscribe(pattern("com.a", Exact), 0, T0);
    assert_eq!(subs.unsubscribe(sub.id, 1), None);
    assert_eq!(subs.subscriber_count(sub.id), Some(1));
    assert_eq!(subs.unsubscribe(sub.id, 0), Some(true));
}

#[test]
fn core_bits_flip_only_between_zero_and_one() {
    let subs = Subscriptions::new(1);
    let cores = |subs: &Subscriptions, id| subs.get(id).unwrap().cores;
    let (sub, _) = subs.subscribe(pattern("com.a", Prefix), 2, T0);
    let id = sub.id;
    subs.subscribe(pattern("com.a", Prefix), 2, T0);
    subs.subscribe(pattern("com.a", Prefix), 7, T0);
    assert_eq!(cores(&subs, id), CoreSet::EMPTY.with(2).with(7));
    assert_eq!(subs.unsubscribe(id, 2), Some(false));
    assert_eq!(cores(&subs, id), CoreSet::EMPTY.with(2).with(7));
    assert_eq!(subs.unsubscribe(id, 2), Some(false));
    assert_eq!(cores(&subs, id), CoreSet::EMPTY.with(7));
    let snapshot = subs.snapshot();
    assert_eq!(
        snapshot.find("com.a", Prefix).unwrap().cores,
        CoreSet::EMPTY.with(7)
    );
    subs.subscribe(pattern("com.a", Prefix), 63, T0);
    assert_eq!(cores(&subs, id).iter().collect::<Vec<_>>(), [7, 63]);
    // The old snapshot is unchanged.
    assert_eq!(
        snapshot.find("com.a", Prefix).unwrap().cores,
        CoreSet::EMPTY.with(7)
    );
}

#[test]
fn a_snapshot_is_published_only_on_visible_changes() {
    let subs = Subscriptions::new(1);
    let current = |subs: &Subscriptions| Arc::clone(&subs.snapshot());
    let empty = current(&subs);

    let (sub, _) = subs.subscribe(pattern("com.a", Wildcard), 0, T0);
    let created = current(&subs);
    assert!(!Arc::ptr_eq(&empty, &created));
    // generations are unique in the process: other tests take some too
    assert!(created.generation() > empty.generation());

    // More subscribers on a core already in the set: same table.
    subs.subscribe(pattern("com.a", Wildcard), 0, T0);
    subs.subscribe(pattern("com.a", Wildcard), 0, T0);
    assert!(Arc::ptr_eq(&created, &current(&subs)));
    assert_eq!(subs.unsubscribe(sub.id, 0), Some(false));
    assert!(Arc::ptr_eq(&created, &current(&subs)));

    // A core joins, then leaves.
    subs.subscribe(pattern("com.a", Wildcard), 1, T0);
    let joined = current(&subs);
    assert!(!Arc::ptr_eq(&created, &joined));
    subs.subscribe(pattern("com.a", Wildcard), 1, T0);
    assert!(Arc::ptr_eq(&joined, &current(&subs)));
    subs.unsubscribe(sub.id, 1);
    assert!(Arc::ptr_eq(&joined, &current(&subs)));
    subs.unsubscribe(sub.id, 1);
    let left = current(&subs);
    assert!(!Arc::ptr_eq(&joined, &left));

    // Refused and unknown unsubscribes change nothing.
    assert_eq!(subs.unsubscribe(sub.id, 9), None);
    assert_eq!(subs.unsubscribe(SubscriptionId::new(5).unwrap(), 0), None);
    assert!(Arc::ptr_eq(&left, &current(&subs)));

    subs.unsubscribe(sub.id, 0);
    assert_eq!(subs.unsubscribe(sub.id, 0), Some(true));
    assert!(!Arc::ptr_eq(&left, &current(&subs)));
    assert!(current(&subs).is_empty());
}

#[test]
fn ids_are_random_unique_and_in_range() {
    let subs = Subscriptions::new(1);
    let mut ids = HashSet::new();
    for n in 0..2000 {
        let (sub, created) = subs.subscribe(pattern(&format!("com.t{n}"), Exact), 0, T0);
        assert!(created);
        assert!((1..=MAX_ROUTER_SCOPE_ID).contains(&sub.id.get()));
        assert!(ids.insert(sub.id));
        assert_eq!(sub.created_seq, n);
    }
    // Not sequential: the ids reveal nothing about the count.
    let mut sorted: Vec<_> = ids.iter().map(|id| id.get()).collect();
    sorted.sort_unstable();
    assert!(sorted.last().unwrap() - sorted.first().unwrap() > 1 << 30);
    assert_eq!(subs.len(), 2000);
}

#[test]
fn spec_examples() {
    let subs = Subscriptions::new(1);
    subs.subscribe(pattern("com.myapp.topic", Prefix), 0, T0);
    subs.subscribe(pattern("com.myapp..userevent", Wildcard), 0, T0);
    let table = subs.snapshot();
    let prefix = owned(&[("com.myapp.topic", Prefix)]);
    assert_eq!(matching(&table, "com.myapp.topic.emergency.11"), prefix);
    assert_eq!(matching(&table, "com.myapp.topic123"), prefix);
    assert_eq!(matching(&table, "com.myapp.topi"), []);
    let wildcard = owned(&[("com.myapp..userevent", Wildcard)]);
    assert_eq!(matching(&table, "com.myapp.foo.userevent"), wildcard);
    assert_eq!(matching(&table, "com.myapp.foo.userevent.more"), []);
    assert_eq!(matching(&table, "com.myapp.foo.bar.userevent"), []);
    assert_eq!(matching(&table, "com.myapp2.foo.userevent"), []);
}

#[test]
fn matching_order_is_exact_then_longest_prefix_then_oldest_wildcard() {
    let subs = Subscriptions::new(1);
    for (uri, policy) in [
        ("a..c", Wildcard),
        ("a", Prefix),
        (".b.c", Wildcard),
        ("a.b.c", Exact),
        ("a.b", Prefix),
        ("a.b.c", Wildcard),
        ("", Prefix),
        ("a.b.c", Prefix),
        ("..", Wildcard),
    ] {
        subs.subscribe(pattern(uri, policy), 0, T0);
    }
    assert_eq!(
        matching(&subs.snapshot(), "a.b.c"),
        owned(&[
            ("a.b.c", Exact),
            ("a.b.c", Prefix),
            ("a.b", Prefix),
            ("a", Prefix),
            ("", Prefix),
            ("a..c", Wildcard),
            (".b.c", Wildcard),
            ("a.b.c", Wildcard),
            ("..", Wildcard),
        ])
    );
}

#[test]
fn long_wildcard_patterns_match() {
    let uri = |last: &str| {
        let mut parts = vec!["p"; 40];
        parts.push(last);
        parts.join(".")
    };
    let subs = Subscriptions::new(1);
    subs.subscribe(pattern(&uri(""), Wildcard), 0, T0);
    subs.subscribe(pattern(&uri("x"), Exact), 0, T0);
    assert_eq!(
        matching(&subs.snapshot(), &uri("x")),
        owned(&[(&uri("x"), Exact), (&uri(""), Wildcard)])
    );
    assert!(subs.lookup(&uri(""), Wildcard).is_some());
}

#[test]
fn concurrent_changes_and_matches() {
    const ROUNDS: usize = 3000;
    let patterns: Vec<UriPattern> = [
        ("a.b", Exact),
        ("a.c", Exact),
        ("a", Prefix),
        ("a.b", Prefix),
        ("a.", Wildcard),
        (".b", Wildcard),
        ("", Prefix),
    ]
    .iter()
    .map(|&(u, p)| pattern(u, p))
    .collect();
    let subs = Arc::new(Subscriptions::new(1));
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (subs, done) = (Arc::clone(&subs), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut seen = 0usize;
                while !done.load(Ordering::Relaxed) {
                    for topic in ["a.b", "a.c", "a", "x.b", "a.b.c"] {
                        let table = subs.snapshot();
                        let mut out = Vec::new();
                        table.matches(topic, &mut out);
                        for sub in &out {
                            assert!(sub.pattern.matches(topic));
                            assert!(!sub.cores.is_empty());
                        }
                        seen += out.len();
                    }
                }
                seen
            })
        })
        .collect();
    let writers: Vec<_> = (0..2u16)
        .map(|core| {
            let (subs, patterns) = (Arc::clone(&subs), patterns.clone());
            std::thread::spawn(move || {
                let mut held = Vec::new();
                for round in 0..ROUNDS {
                    let at = (round * 5 + usize::from(core)) % patterns.len();
                    let (sub, _) = subs.subscribe(patterns[at].clone(), core, T0);
                    held.push(sub.id);
                    if round % 3 != 0 {
                        let id = held.remove(round % held.len());
                        assert!(subs.unsubscribe(id, core).is_some());
                    }
                }
                for id in held {
                    assert!(subs.unsubscribe(id, core).is_some());
                }
                subs.subscribe(patterns[0].clone(), core, T0)
            })
        })
        .collect();
    let kept: Vec<_> = writers.into_iter().map(|w| w.join().unwrap().0).collect();
    done.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.join().unwrap();
    }
    assert_eq!(kept[0].id, kept[1].id);
    assert_eq!(subs.len(), 1);
    let sub = subs.get(kept[0].id).unwrap();
    assert_eq!(sub.cores, CoreSet::EMPTY.with(0).with(1));
    assert_eq!(subs.subscriber_count(sub.id), Some(2));
    assert_eq!(matching(&subs.snapshot(), "a.b"), owned(&[("a.b", Exact)]));
}

// ---------------------------------------------------------------------------
// The table against a naive matcher.

/// What the table should hold: subscriber counts per live pattern.
#[derive(Default)]
struct Model {
    live: BTreeMap<(String, MatchPolicy), Live>,
}

struct Live {
    id: SubscriptionId,
    pattern: UriPattern,
    created_seq: u64,
    counts: BTreeMap<CoreId, u64>,
}

#[derive(Clone, Debug)]
enum Op {
    Subscribe(Index, CoreId),
    Unsubscribe(Index),
}

impl Model {
    fn cores(&self, live: &Live) -> CoreSet {
        live.counts
            .keys()
            .fold(CoreSet::EMPTY, |set, &c| set.with(c))
    }

    /// The naive answer: every live pattern that matches, in the documented
    /// order.
    fn matching(&self, topic: &str) -> Vec<SubscriptionId> {
        let mut found: Vec<&Live> = self
            .live
            .values()
            .filter(|l| l.pattern.matches(topic))
            .collect();
        found.sort_by_key(|l| {
            let policy = l.pattern.policy();
            let longest_first = match policy {
                Prefix => usize::MAX - l.pattern.uri().len(),
                _ => 0,
            };
            (policy, longest_first, l.created_seq)
        });
        found.iter().map(|l| l.id).collect()
    }
}

/// Applies `ops` to a table and the model, checking flags and snapshot
/// publication after each, and every topic's matches against the model:
/// through a core's match cache (small, so it also starts over when full)
/// after every op, and uncached at the end.
fn run(patterns: &[UriPattern], topics: &[String], ops: &[Op]) -> Result<(), TestCaseError> {
    let subs = Subscriptions::new(1);
    let mut model = Model::default();
    let mut cache = MatchCache::new(4);
    for op in ops {
        let before = Arc::clone(&subs.snapshot());
        let visible = match op {
            Op::Subscribe(at, core) => {
                let pattern = at.get(patterns);
                let key = (pattern.uri().to_owned(), pattern.policy());
                let (sub, created) = subs.subscribe(pattern.clone(), *core, T0);
                prop_assert_eq!(created, !model.live.contains_key(&key));
                let live = model.live.entry(key).or_insert_with(|| Live {
                    id: sub.id,
                    pattern: pattern.clone(),
                    created_seq: sub.created_seq,
                    counts: BTreeMap::new(),
                });
                prop_assert_eq!(live.id, sub.id);
                let count = live.counts.entry(*core).or_default();
                *count += 1;
                *count == 1
            }
            Op::Unsubscribe(at) => {
                let held: Vec<_> = model
                    .live
                    .iter()
                    .flat_map(|(k, l)| l.counts.keys().map(move |c| (k.clone(), *c)))
                    .collect();
                if held.is_empty() {
                    continue;
                }
                let (key, core) = at.get(&held).clone();
                let live = model.live.get_mut(&key).unwrap();
                let id = live.id;
                let count = live.counts.get_mut(&core).unwrap();
                *count -= 1;
                let left = *count == 0;
                if left {
                    live.counts.remove(&core);
                }
                let deleted = live.counts.is_empty();
                if deleted {
                    model.live.remove(&key);
                }
                prop_assert_eq!(subs.unsubscribe(id, core), Some(deleted));
                left
            }
        };
        let after = subs.snapshot();
        prop_assert_eq!(!Arc::ptr_eq(&before, &*after), visible, "{:?}", op);
        for topic in topics {
            let matched = cache.matched(&after, topic);
            let got: Vec<_> = matched.subscriptions.iter().map(|(id, _)| *id).collect();
            let want = model.matching(topic);
            let cores = model
                .live
                .values()
                .filter(|l| want.contains(&l.id))
                .fold(0, |bits, l| bits | model.cores(l).bits());
            prop_assert_eq!(got, want, "cached, topic {:?} after {:?}", topic, op);
            prop_assert_eq!(matched.cores, cores, "cached cores of {:?}", topic);
        }
    }
    let table = subs.snapshot();
    prop_assert_eq!(table.len(), model.live.len());
    for live in model.live.values() {
        let sub = table
            .find(live.pattern.uri(), live.pattern.policy())
            .unwrap();
        prop_assert_eq!(sub.id, live.id);
        prop_assert_eq!(sub.cores, model.cores(live));
        prop_assert_eq!(
            subs.subscriber_count(live.id),
            Some(live.counts.values().sum())
        );
    }
    // Besides the random topics: each pattern as a topic, and with its
    // empty components filled in, so that most patterns match something.
    let fill = |uri: &str, word: &str| {
        let parts: Vec<&str> = uri
            .split('.')
            .map(|c| if c.is_empty() { word } else { c })
            .collect();
        parts.join(".")
    };
    let from_patterns = patterns
        .iter()
        .flat_map(|p| [p.uri().to_owned(), fill(p.uri(), "a"), fill(p.uri(), "b")]);
    let mut out = Vec::new();
    for topic in topics.iter().cloned().chain(from_patterns) {
        out.clear();
        table.matches(&topic, &mut out);
        let got: Vec<_> = out.iter().map(|s| s.id).collect();
        prop_assert_eq!(got, model.matching(&topic), "topic {:?}", topic);
    }
    Ok(())
}

/// A pattern of `policy` from components drawn from `words`; wildcard
/// patterns also draw empty components, prefix patterns are cut anywhere.
fn patterns(
    words: &'static [&'static str],
    components: std::ops::RangeInclusive<usize>,
) -> impl Strategy<Value = UriPattern> {
    let word = select(words).prop_map(str::to_owned);
    let uri = prop::collection::vec(word.clone(), components.clone()).prop_map(|c| c.join("."));
    let slot = prop_oneof![2 => word, 1 => Just(String::new())];
    prop_oneof![
        uri.clone().prop_map(|u| pattern(&u, Exact)),
        (uri, any::<Index>()).prop_map(|(u, cut)| pattern(&u[..cut.index(u.len() + 1)], Prefix)),
        prop::collection::vec(slot, components).prop_map(|c| pattern(&c.join("."), Wildcard)),
    ]
}

fn topics(
    words: &'static [&'static str],
    components: std::ops::RangeInclusive<usize>,
) -> impl Strategy<Value = String> {
    prop::collection::vec(select(words), components).prop_map(|c| c.join("."))
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        3 => (any::<Index>(), 0..4u16).prop_map(|(at, core)| Op::Subscribe(at, core)),
        2 => any::<Index>().prop_map(Op::Unsubscribe),
    ];
    prop::collection::vec(op, 0..60)
}

const WORDS: &[&str] = &["a", "b", "ab"];
const LONG_WORDS: &[&str] = &["a", "b"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn matches_like_the_naive_matcher(
        patterns in prop::collection::vec(patterns(WORDS, 1..=4), 1..12),
        topics in prop::collection::vec(topics(WORDS, 1..=5), 1..12),
        ops in ops(),
    ) {
        run(&patterns, &topics, &ops)?;
    }

    #[test]
    fn long_uris_match_like_the_naive_matcher(
        patterns in prop::collection::vec(patterns(LONG_WORDS, 30..=35), 1..8),
        topics in prop::collection::vec(topics(LONG_WORDS, 30..=35), 1..8),
        ops in ops(),
    ) {
        run(&patterns, &topics, &ops)?;
    }
}
