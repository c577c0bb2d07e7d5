//! What the cores know of the cluster link (`crate::cluster`): which mailbox
//! it reads and which realms it shares. To a core the link is one more core
//! of the mesh: a publication whose subscriptions the link holds for other
//! nodes is mailed to it like to any core.

use std::collections::HashSet;
use std::sync::Arc;

use crate::core::realm::Realm;
use crate::local::figures::CoreCounter;

/// The cluster link's place among the cores.
pub struct ClusterPort {
    /// Its mailbox: the index after the last core.
    pub link: usize,
    /// The realms shared with other nodes, by name; the others stay local.
    pub realms: HashSet<String>,
    /// The link's figures, for `ringbar status` and the metrics endpoint.
    pub figures: Arc<ClusterFigures>,
}

impl ClusterPort {
    /// The link's mailbox when `realm` is shared with the cluster.
    pub fn link_for(&self, realm: &Realm) -> Option<usize> {
        self.realms.contains(&realm.name).then_some(self.link)
    }
}

/// The cluster link's live figures; only the link's thread writes them.
#[derive(Debug, Default)]
pub struct ClusterFigures {
    /// 1 while the link is connected to NATS.
    pub connected: CoreCounter,
    /// Other nodes heard from and not gone.
    pub peers: CoreCounter,
    /// Messages sent to NATS.
    pub messages_out: CoreCounter,
    /// Their bytes (payloads).
    pub bytes_out: CoreCounter,
    /// Messages received from NATS.
    pub messages_in: CoreCounter,
    /// Their bytes (payloads).
    pub bytes_in: CoreCounter,
    /// Messages not sent because NATS was unreachable.
    pub not_sent: CoreCounter,
    /// Messages received that could not be read.
    pub unreadable: CoreCounter,
}

/// The cluster link's figures at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClusterSnapshot {
    /// Whether the link is connected to NATS.
    pub connected: bool,
    /// Other nodes heard from and not gone.
    pub peers: u64,
    /// Messages sent to NATS.
    pub messages_out: u64,
    /// Their bytes.
    pub bytes_out: u64,
    /// Messages received from NATS.
    pub messages_in: u64,
    /// Their bytes.
    pub bytes_in: u64,
    /// Messages not sent because NATS was unreachable.
    pub not_sent: u64,
    /// Messages received that could not be read.
    pub unreadable: u64,
}

impl ClusterFigures {
    /// The figures now.
    pub fn snapshot(&self) -> ClusterSnapshot {
        ClusterSnapshot {
            connected: self.connected.get() > 0,
            peers: self.peers.get(),
            messages_out: self.messages_out.get(),
            bytes_out: self.bytes_out.get(),
            messages_in: self.messages_in.get(),
            bytes_in: self.bytes_in.get(),
            not_sent: self.not_sent.get(),
            unreadable: self.unreadable.get(),
        }
    }
}
