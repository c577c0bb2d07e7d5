//! The SRDP bridge: devices on an SRDP adapter (Tavendo's Simple Register
//! Device Protocol, over a serial line or UDP) as WAMP procedures and
//! topics. Each device exposes numbered registers that its Electronic
//! Device Sheet (EDS) names and types; the bridge reads and writes them
//! for WAMP callers and publishes their CHANGE events.
//!
//! ```text
//!  frame / decoder   bytes ⇄ frames (CRC-16/XMODEM, resync)   sans-IO
//!  channel           transfers ⇄ frames (seq, ACK, by pos)    sans-IO
//!  discovery         registers 1, 2, 5 ⇒ devices              sans-IO
//!  eds               EDS files; register bytes ⇄ values       sans-IO
//!  mapping           devices ⇒ URIs                           sans-IO
//!  transport / link  serial line or UDP, reconnects           tokio
//!  wamp              prefix registration, publications        tokio
//! ```

pub mod channel;
pub mod config;
pub mod crc;
pub mod decoder;
pub mod discovery;
pub mod eds;
pub mod frame;
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod link;
pub mod mapping;
mod transport;
pub(crate) mod wamp;
