//! Past one machine: realms shared by several nodes through NATS
//! (`docs/CLUSTER.md`). The cluster link is one more peer of the cores'
//! mesh; this layer is its state and its messages, without I/O — the
//! engine's cluster driver carries them over NATS.

pub mod calls;
pub mod link;
mod members;
mod rpc;
pub mod wire;

#[cfg(test)]
mod tests;

pub use link::{Link, LinkConfig, Output, Starts};
pub use rpc::ClaimAnswer;
