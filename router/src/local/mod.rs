//! State local to one core — what a core's sessions hold — as opposed to
//! the realm's tables every core shares. Each piece has one owner type
//! with one mutation API that keeps its indexes in step, and a `check`
//! of its invariants that the engine's simulation runs after every step.

pub mod callees;
pub mod figures;
pub mod in_flight;
pub mod link;
pub mod outbound;
pub mod peer;
pub mod prefetch;
pub mod ready;
pub mod signal;
pub mod subscribers;
pub mod testaments;
