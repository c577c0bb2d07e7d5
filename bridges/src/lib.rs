//! ringbar's bridge workers: WAMP client sessions (`ringbar-client`) that
//! bridge a realm to something outside it. Each worker runs on a thread
//! of its own with its own tokio runtime, never on a router core, and
//! joins the node's own router over its worker socket or a remote router
//! by URL, joining again with backoff when the router goes away.
//!
//! ```text
//!  config::BridgeWorker ──► RunningBridge::start (thread + runtime)
//!     └─ one task per Component: join ─► register / subscribe ─► serve
//!          RESTCallee:        INVOCATION ─► HTTP request ─► YIELD {code, content, headers}
//!          MessageForwarder:  EVENT ─► bounded queue per target ─► HTTP request (retried)
//!          SRDP bridge:       INVOCATION ─► register transfer ─► YIELD; CHANGE ─► PUBLISH
//!          PostgreSQL bridge: outbox ─► PUBLISH; INVOCATION ─► SQL function; ... (`postgresql`)
//! ```
//!
//! The shapes are Crossbar.io's `crossbar.bridge.rest.RESTCallee` and
//! `MessageForwarder`, so their configs run unchanged.

mod callee;
mod component;
pub mod config;
mod figures;
mod forwarder;
mod http;
pub mod postgresql;
pub mod srdp;
mod worker;

pub use figures::{Figures, FiguresSnapshot};
pub use worker::RunningBridge;
