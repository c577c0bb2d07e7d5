//! The persistent map the realm tables are built of: a hash trie whose
//! versions share every node they have in common (`imbl`). A clone is O(1)
//! and a change copies only the O(log n) nodes on its key's path, so a
//! writer can publish a new table per REGISTER or SUBSCRIBE, in O(log n),
//! while calls and publishes read older versions without a lock; and a
//! reader that must scan a shared table (the session meta API) clones it
//! under its lock in O(1) and scans outside, so no lock is held for O(n).
//! Keyed with `ahash`, randomly seeded against flooding.

/// A persistent hash map keyed with `ahash`.
pub type PersistentMap<K, V> =
    imbl::GenericHashMap<K, V, ahash::RandomState, imbl::shared_ptr::DefaultSharedPtr>;

/// A persistent hash set keyed with `ahash`.
pub type PersistentSet<T> =
    imbl::GenericHashSet<T, ahash::RandomState, imbl::shared_ptr::DefaultSharedPtr>;
