//! The router-core fuzz harness: drives real cores (sessions, broker,
//! dealer, meta API, cross-core mail) with scripts of WAMP messages from
//! several clients, in any order, and checks what must always hold:
//!
//! - nothing panics;
//! - every request is answered exactly once (a CALL by one final RESULT or
//!   ERROR) unless its session left; an EVENT or INVOCATION reaches only a
//!   session that subscribed or registered;
//! - after every step, each core's dealer tables agree with each other;
//! - once every session left, every table is empty: sessions, subscriptions,
//!   registrations, calls, invocations, testaments, per-session counters,
//!   the core's figures, session ids; and no connection is still held;
//! - once the router is gone, so are its realms (no reference cycle).
//!
//! The router is a simulated one ([`crate::sim`]). The input format is in
//! [`script`]: hand-written rather than `arbitrary` derived, so that seeds
//! can be written by hand (`seeds` in the tests) and stay valid across
//! crate versions. The `cargo fuzz` target
//! `fuzz/fuzz_targets/router_core.rs` calls [`router_core`]; the tests below
//! run the seeds and random scripts on every `cargo test`.

mod client;
mod harness;
mod script;

use crate::sim::invariants;
use harness::Harness;
use script::Script;

/// Runs the script `data` against fresh cores and checks the invariants;
/// panics when one breaks.
pub fn router_core(data: &[u8]) {
    run(data);
}

/// [`router_core`], returning what the clients read (so tests see which
/// paths a script took).
fn run(data: &[u8]) -> client::Seen {
    let (setup, script) = Script::new(data);
    let mut harness = Harness::new(setup);
    for step in script {
        harness.run(step);
    }
    let realms = harness.realms();
    let seen = harness.finish();
    invariants::check_freed(&realms);
    seen
}

#[cfg(test)]
mod tests;
