//! The node's worker socket: a RawSocket transport on a Unix socket in the
//! node directory, over which bridge components join the node's own
//! router. Each component has a ticket of its own, random for every start,
//! whose principal carries the component's role and realm, so the socket
//! admits the node's own workers only and each with the role the config
//! gives it.

use std::collections::BTreeMap;
use std::path::Path as FsPath;
use std::sync::Arc;

use ringbar_client::Credentials;
use ringbar_engine::config::{
    AuthConfig, Endpoint, Grant, Provider, RawSocketTransport, Secret, TicketPrincipal,
    TransportConfig, TransportKind,
};
use ringbar_protocol::codec::Serializer;

/// The socket's file in the node directory.
pub(crate) const SOCKET_FILE: &str = "worker.sock";

/// The transport id in logs and `ringbar status` (a hyphen, so no
/// config's transport id can take it).
const TRANSPORT_ID: &str = "ringbar-workers";

/// The largest message on the socket: the most a RawSocket frame holds.
const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// The principals of the worker socket, one per component that joins
/// over it.
#[derive(Debug, Default)]
pub(super) struct WorkerSocket {
    principals: BTreeMap<String, TicketPrincipal>,
}

impl WorkerSocket {
    /// Admits one more component as `authid` with `role` on `realm`; its
    /// credentials. `None` when no random ticket can be made.
    pub(super) fn admit(
        &mut self,
        authid: String,
        role: String,
        realm: &str,
    ) -> Option<Credentials> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).ok()?;
        let ticket = hex::encode(bytes);
        self.principals.insert(
            authid.clone(),
            TicketPrincipal {
                ticket: Secret(ticket.clone()),
                grant: Grant {
                    role,
                    realm: Some(realm.to_owned()),
                },
            },
        );
        Some(Credentials::Ticket { authid, ticket })
    }

    /// The transport the router opens, when any component joins over it.
    pub(super) fn transport(self, dir: &FsPath) -> Option<TransportConfig> {
        if self.principals.is_empty() {
            return None;
        }
        let connections = self.principals.len();
        let auth = AuthConfig {
            ticket: Some(Provider::Static(self.principals)),
            ..AuthConfig::none()
        };
        Some(TransportConfig {
            id: TRANSPORT_ID.to_owned(),
            endpoint: Endpoint::Unix {
                path: dir.join(SOCKET_FILE),
            },
            kind: TransportKind::RawSocket(RawSocketTransport {
                serializers: vec![Serializer::Json],
                max_message_bytes: MAX_MESSAGE_BYTES,
                auth: Arc::new(auth),
            }),
            // A component reconnecting may overlap its old connection.
            max_connections: connections * 2,
        })
    }
}
