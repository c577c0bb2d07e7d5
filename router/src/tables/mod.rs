//! A realm's tables, shared by every core: written under a mutex,
//! published as immutable snapshots that readers load without a lock.

pub mod match_cache;
pub mod registrations;
pub mod subscriptions;

mod core_set;
mod match_index;
mod persistent;

pub use persistent::{PersistentMap, PersistentSet};
