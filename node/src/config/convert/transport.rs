//! Transports: `websocket`, `rawsocket`, `websocket.testee` (and the
//! `websocket-testee` worker), dispatching `web` and `universal` to their
//! own files.

use ringbar_engine::config::{
    DEFAULT_MAX_CONNECTIONS, RawSocketTransport, TransportKind, WebSocketOptions,
};
use serde_json::Value;

use super::{Converter, Listening, PendingTransport};
use crate::config::diag::Path;
use crate::config::file::{RawSocketFile, TesteeFile, WebSocketFile};
use crate::config::read::{Accept, read_with, show, type_tag};

/// The transport types ringbar runs.
const TRANSPORT_TYPES: &str = "websocket, rawsocket, web, universal, websocket.testee";

/// The largest message a transport may allow, as Crossbar.io checks it.
pub(super) const MAX_MESSAGE_BYTES: i64 = 64 << 20;

/// RawSocket's largest message when the file says nothing: the most its
/// handshake can announce.
const DEFAULT_RAWSOCKET_MESSAGE_BYTES: usize = 16 << 20;

impl Converter<'_> {
    /// One transport of a router worker, with its connection cap.
    pub(super) fn transport(&mut self, value: &Value, path: &Path) -> Option<Listening> {
        self.listening(value, path, Self::transport_of_type)
    }

    /// The `transport` of a `websocket-testee` worker: Crossbar.io checks it
    /// as a `websocket` transport.
    pub(super) fn testee_worker_transport(
        &mut self,
        value: &Value,
        path: &Path,
    ) -> Option<Listening> {
        self.listening(value, path, Self::testee_worker_transport_file)
    }

    /// The transport `read` converts, with the `max_connections` that every
    /// listening transport may have.
    fn listening(
        &mut self,
        value: &Value,
        path: &Path,
        read: impl FnOnce(&mut Self, &Value, &Path) -> Option<PendingTransport>,
    ) -> Option<Listening> {
        let max_connections = self.max_connections(value, path);
        let transport = read(self, value, path)?;
        Some(Listening {
            transport,
            max_connections: max_connections?,
        })
    }

    fn transport_of_type(&mut self, value: &Value, path: &Path) -> Option<PendingTransport> {
        let kind = type_tag(value, path, "transport", TRANSPORT_TYPES, self.diag)?;
        match kind {
            "websocket" => self.websocket_transport(value, path),
            "rawsocket" => self.rawsocket_transport(value, path),
            "web" => self.web_transport(value, path),
            "websocket.testee" => self.testee_transport(value, path),
            "universal" => self.universal_transport(value, path),
            "mqtt" | "flashpolicy" | "stream.testee" => {
                self.diag.error(
                    &path.key("type"),
                    format!("\"{kind}\" transports are not supported yet ({TRANSPORT_TYPES})"),
                );
                None
            }
            other => {
                self.diag.error(
                    &path.key("type"),
                    format!("\"{other}\" is not a transport type ({TRANSPORT_TYPES})"),
                );
                None
            }
        }
    }

    fn testee_worker_transport_file(
        &mut self,
        value: &Value,
        path: &Path,
    ) -> Option<PendingTransport> {
        let kind = type_tag(value, path, "transport", "websocket", self.diag)?;
        if kind != "websocket" && kind != "websocket.testee" {
            self.diag.error(
                &path.key("type"),
                format!("\"{kind}\" is not a testee transport type (websocket)"),
            );
            return None;
        }
        let accept = Accept::silent(&[
            "type",
            "url",
            "debug",
            "serializers",
            "auth",
            "cookie",
            "max_connections",
        ]);
        let file: TesteeFile = read_with(value, path, self.diag, accept)?;
        self.testee(file, path)
    }

    fn websocket_transport(&mut self, value: &Value, path: &Path) -> Option<PendingTransport> {
        let file: WebSocketFile = read_with(
            value,
            path,
            self.diag,
            Accept::silent(&["type", "url", "debug", "max_connections"]),
        )?;
        let id = self.check_id(file.id.clone(), path);
        let endpoint = self.required_endpoint(file.endpoint.as_ref(), path);
        let websocket = self.websocket(file, path);
        Some(PendingTransport {
            id,
            endpoint: endpoint?,
            kind: TransportKind::WebSocket(websocket?),
        })
    }

    fn rawsocket_transport(&mut self, value: &Value, path: &Path) -> Option<PendingTransport> {
        let file: RawSocketFile = read_with(
            value,
            path,
            self.diag,
            Accept::silent(&["type", "debug", "max_connections"]),
        )?;
        let id = self.check_id(file.id.clone(), path);
        let endpoint = self.required_endpoint(file.endpoint.as_ref(), path);
        let rawsocket = self.rawsocket(&file, path);
        Some(PendingTransport {
            id,
            endpoint: endpoint?,
            kind: TransportKind::RawSocket(rawsocket?),
        })
    }

    /// The serializers, message size and authentication of a rawsocket
    /// transport, or of a universal transport's `rawsocket`.
    pub(super) fn rawsocket(
        &mut self,
        file: &RawSocketFile,
        path: &Path,
    ) -> Option<RawSocketTransport> {
        let serializers = self.serializers(file.serializers.as_deref(), &path.key("serializers"));
        let from_options = file.options.as_ref().and_then(|o| o.max_message_size);
        let max_message_bytes = match (from_options, file.max_message_size) {
            (Some(bytes), _) => {
                self.message_size(bytes, &path.key("options").key("max_message_size"))
            }
            (None, Some(bytes)) => self.message_size(bytes, &path.key("max_message_size")),
            (None, None) => Some(DEFAULT_RAWSOCKET_MESSAGE_BYTES),
        };
        let auth = self.auth(file.auth.as_ref(), path);
        Some(RawSocketTransport {
            serializers: serializers?,
            max_message_bytes: max_message_bytes?,
            auth: auth?,
        })
    }

    fn testee_transport(&mut self, value: &Value, path: &Path) -> Option<PendingTransport> {
        let file: TesteeFile = read_with(
            value,
            path,
            self.diag,
            Accept::silent(&["type", "url", "debug"]),
        )?;
        self.testee(file, path)
    }

    fn testee(&mut self, file: TesteeFile, path: &Path) -> Option<PendingTransport> {
        let id = self.check_id(file.id, path);
        let endpoint = self.endpoint(&file.endpoint, &path.key("endpoint"));
        let options = match &file.options {
            Some(options) => self.websocket_options(options, &path.key("options")),
            None => Some(WebSocketOptions::default()),
        };
        Some(PendingTransport {
            id,
            endpoint: endpoint?,
            kind: TransportKind::WebSocketTestee(options?),
        })
    }

    /// A listening transport's `max_connections`, checked as Crossbar.io
    /// does (an integer, at least 1); Crossbar.io's default when absent.
    fn max_connections(&mut self, value: &Value, path: &Path) -> Option<usize> {
        let Some(max) = value.get("max_connections") else {
            return Some(DEFAULT_MAX_CONNECTIONS);
        };
        match max.as_u64().map(usize::try_from) {
            Some(Ok(max @ 1..)) => Some(max),
            _ => {
                self.diag.error(
                    &path.key("max_connections"),
                    format!(
                        "{} is not a connection count (an integer, at least 1)",
                        show(max)
                    ),
                );
                None
            }
        }
    }

    /// The `endpoint` a transport listens on, which it must have.
    pub(super) fn required_endpoint(
        &mut self,
        endpoint: Option<&Value>,
        path: &Path,
    ) -> Option<ringbar_engine::config::Endpoint> {
        let Some(endpoint) = endpoint else {
            self.diag.error(path, "missing field `endpoint`");
            return None;
        };
        self.endpoint(endpoint, &path.key("endpoint"))
    }

    /// A message size limit, checked as Crossbar.io does (1 byte to 64 MiB).
    pub(super) fn message_size(&mut self, bytes: i64, path: &Path) -> Option<usize> {
        if (1..=MAX_MESSAGE_BYTES).contains(&bytes) {
            usize::try_from(bytes).ok()
        } else {
            self.diag.error(
                path,
                format!("{bytes} is not a message size (1-{MAX_MESSAGE_BYTES} bytes)"),
            );
            None
        }
    }
}
