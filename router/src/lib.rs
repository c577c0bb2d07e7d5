//! `ringbar-router`: the router's state and logic without I/O.
//!
//! Nothing here knows a runtime, a socket, a thread or a clock: the engine
//! (the driver) feeds it and writes what it produces, and tests drive it on
//! one thread. The layers, each importing only those below it:
//!
//! - [`authorize`]: the role model (permissions on URI patterns, and the
//!   dynamic authorizer a role names) and each session's cache of decisions;
//! - [`tables`]: a realm's shared tables (subscriptions, registrations),
//!   read lock-free by every core, and each core's match cache;
//! - [`timers`]: deadlines kept by the router, served by the driver;
//! - [`slab`]: values named by small copyable keys (how a core owns its
//!   sessions);
//! - [`ids`]: WAMP ids, drawn from seeded generators;
//! - [`limits`]: every bound on what a peer can make the router hold or
//!   wait for, with its default;
//! - [`error`]: the errors the router answers with, and their URIs.
//!
//! `docs/ARCHITECTURE.md` is the map of the crates and their layers.

pub mod auth;
pub mod authorize;
pub mod core;
pub mod error;
pub mod ids;
pub mod limits;
pub mod local;
pub mod mesh;
pub mod slab;
pub mod tables;
pub mod timers;
pub mod wire;
