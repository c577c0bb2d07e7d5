//! The persistent map the realm tables are built of: a hash trie whose
//! versions share every node they have in common (`imbl`). A clone is O(1)
//! and a change copies only the O(log n) nodes on its key's path, so a
//! writer can publish a new table per REGISTER or SUBSCRIBE, in O(log n),
//! while calls and publishes read older versions without a lock.
//! Keyed with `ahash`, randomly seeded against flooding.

/// A persistent hash map keyed with `ahash`.
pub(crate) type PersistentMap<K, V> =
    imbl::GenericHashMap<K, V, ahash::RandomState, imbl::shared_ptr::DefaultSharedPtr>;
