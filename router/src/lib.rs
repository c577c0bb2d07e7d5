//! `ringbar-router`: the router's state and logic without I/O.
//!
//! Nothing here knows a runtime, a socket or a thread, reads a clock of
//! its own, or waits: the engine (the driver) feeds each core's router —
//! a connection's messages to its session, mail, expired timers — and
//! writes what it produces, polling the outbound queues and the mesh;
//! answers the router waits for come back as continuations. The layers,
//! each importing only those below it:
//!
//! - [`cluster`]: the cluster link's state and messages, which share
//!   realms with other nodes through NATS (one more peer of the mesh);
//! - [`core`]: one core's router — its sessions, the broker, the dealer,
//!   the meta API, the dynamic authorizer, realms, and the inputs a
//!   driver hands in;
//! - [`local`]: state local to one core, each piece behind one owner type
//!   (subscribers, calls and invocations, callees, testaments, a
//!   connection's link and outbound queue, the core's figures, signals);
//! - [`auth`]: authentication methods and their config;
//! - [`authorize`]: the role model (permissions on URI patterns, and the
//!   dynamic authorizer a role names) and each session's cache of decisions;
//! - [`tables`]: a realm's shared tables (subscriptions, registrations),
//!   read lock-free by every core, and each core's match cache;
//! - [`timers`]: deadlines kept by the router, served by the driver, and
//!   the driver's clock;
//! - [`slab`]: values named by small copyable keys (how a core owns its
//!   sessions);
//! - [`ids`]: WAMP ids, drawn from seeded generators;
//! - [`wire`]: how a connection frames what it is sent;
//! - [`mesh`]: the bounded queues between cores;
//! - [`limits`]: every bound on what a peer can make the router hold or
//!   wait for, with its default;
//! - [`error`]: the errors the router answers with, and their URIs.
//!
//! `docs/ARCHITECTURE.md` is the map of the crates and their layers.

pub mod auth;
pub mod authorize;
pub mod cluster;
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
