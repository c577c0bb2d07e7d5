//! An `srdp-bridge` worker's settings, already checked by the node
//! (`node/src/config/bridge/srdp.rs`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::eds::EdsDatabase;

/// The SRDP bridge: devices on one adapter, as WAMP procedures and topics.
#[derive(Debug, Clone)]
pub struct SrdpBridge {
    /// `transport`: how the adapter is reached.
    pub transport: SrdpTransport,
    /// `eds`: the folder the EDS files were loaded from (for logs).
    pub eds_folder: PathBuf,
    /// The EDS files of that folder.
    pub eds: Arc<EdsDatabase>,
    /// `prefix`: the URI prefix of every procedure and topic.
    pub prefix: String,
    /// `devices`: URI names of device indexes (others go by index).
    pub devices: BTreeMap<u16, String>,
    /// `timeout_ms` (ringbar): how long a frame waits for its answer.
    pub timeout: Duration,
    /// `max_frame_data` (ringbar): the data bytes per frame the adapter
    /// takes (the SRDP library's default, 69, unless its build says more).
    pub max_frame_data: usize,
}

/// How the adapter is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SrdpTransport {
    /// A serial line (USB CDC, RS-232): `port`, `baudrate`.
    Serial {
        /// The device file, e.g. `/dev/ttyACM0`.
        port: PathBuf,
        /// Bits per second.
        baudrate: u32,
    },
    /// UDP datagrams, one frame each: `host`, `port` (1910 by default).
    Udp {
        /// The adapter's address or name.
        host: String,
        /// Its UDP port.
        port: u16,
    },
}

/// How long a frame waits for its answer when `timeout_ms` is not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1000);

/// SRDP's UDP port.
pub const UDP_PORT: u16 = 1910;

impl std::fmt::Display for SrdpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SrdpTransport::Serial { port, baudrate } => {
                write!(f, "serial line {} ({baudrate} baud)", port.display())
            }
            SrdpTransport::Udp { host, port } if host.contains(':') => {
                write!(f, "udp://[{host}]:{port}")
            }
            SrdpTransport::Udp { host, port } => write!(f, "udp://{host}:{port}"),
        }
    }
}
