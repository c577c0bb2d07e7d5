//! The router's configuration, as the engine needs it.
//!
//! This is not Crossbar.io's file format: the node (`ringbar` binary) reads
//! `config.json`/`config.yaml`, validates it with error paths, and builds a
//! [`RouterConfig`]. Everything here is already valid; the engine does not
//! re-check it.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ringbar_protocol::codec::Serializer;

use ringbar_protocol::websocket::OriginPolicy;
use ringbar_protocol::websocket::deflate::DeflateConfig;

pub use crate::ip_network::IpNetwork;
pub use crate::nonces::{DEFAULT_MAX_NONCES, SeenNonces};
pub use ringbar_router::auth::config::{
    AnonymousAuth, AuthConfig, Authenticator, AuthenticatorProcedure, CryptosignPrincipal, Grant,
    Pbkdf2Params, Provider, Secret, TicketPrincipal, TlsPrincipal, WampCraPrincipal,
};
pub use ringbar_router::authorize::{Allow, Disclose, Permission, RoleConfig};
pub use ringbar_router::core::config::{EventHistory, REALM_TEMPLATE, RealmConfig};
pub use ringbar_router::limits::{FlowControl, Limits, SlowConsumerPolicy};

/// Everything one router node runs.
#[derive(Debug, Clone)]
pub struct RouterConfig {
    /// How many core threads to run (each pinned, each with its own
    /// listeners); at least 1.
    pub cores: usize,
    /// Which I/O backend the cores use.
    pub io: IoBackend,
    /// The realms clients may join.
    pub realms: Vec<RealmConfig>,
    /// The listening transports.
    pub transports: Vec<TransportConfig>,
    /// Per-session flow control, for every transport.
    pub flow: FlowControl,
    /// What clients may make the router hold.
    pub limits: Limits,
    /// How long shutdown may take before connections are cut, in ms.
    pub shutdown_timeout_ms: u64,
    /// The cluster this node shares realms with (`ringbar.cluster`), if
    /// any.
    pub cluster: Option<ClusterConfig>,
}

/// `ringbar.cluster`: realms this node shares with other nodes through
/// NATS (`docs/CLUSTER.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// This node's name, unique in the cluster: a NATS subject token
    /// (letters, digits, `-`, `_`; at most 64).
    pub node: String,
    /// The realms shared with the cluster; the others stay local. Each is a
    /// realm of this router.
    pub realms: Vec<String>,
    /// How to reach NATS.
    pub nats: NatsConfig,
    /// The first token of every subject the cluster uses, so that several
    /// clusters can share one NATS (default `ringbar`).
    pub subject_prefix: String,
    /// How often this node tells the others it is alive.
    pub heartbeat: std::time::Duration,
    /// A node not heard from for this long is gone: its subscriptions
    /// are removed from every other node (more than twice `heartbeat`).
    pub failure_timeout: std::time::Duration,
}

/// The heartbeat interval when the config gives none.
pub const DEFAULT_CLUSTER_HEARTBEAT: std::time::Duration = std::time::Duration::from_millis(1_000);

/// The failure timeout when the config gives none: a dead node is gone
/// from the cluster within this plus one heartbeat (under 5 s).
pub const DEFAULT_CLUSTER_FAILURE_TIMEOUT: std::time::Duration =
    std::time::Duration::from_millis(3_000);

/// `ringbar.cluster.nats`: the NATS servers and how to log in to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsConfig {
    /// Server URLs (`nats://host:port` or `tls://host:port`); the client
    /// connects to one and fails over to the others.
    pub servers: Vec<String>,
    /// The credentials, when the servers ask for any.
    pub auth: NatsAuth,
    /// TLS to the servers, when set (also implied by a `tls://` URL).
    pub tls: Option<NatsTls>,
}

/// How this node proves itself to NATS: one of what the NATS client
/// supports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NatsAuth {
    /// No credentials.
    #[default]
    None,
    /// `token`.
    Token(String),
    /// `user` and `password`.
    UserPassword {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
    /// `nkey_seed`: an NKey seed (`SU...`).
    Nkey(String),
    /// `credentials`: a `.creds` file (JWT and NKey seed).
    CredentialsFile(PathBuf),
}

/// `ringbar.cluster.nats.tls`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NatsTls {
    /// PEM files of the CAs the servers' certificates chain to; empty for
    /// the system's roots.
    pub ca_certificates: Vec<PathBuf>,
    /// This node's certificate and key (PEM), when the servers ask for a
    /// client certificate.
    pub client: Option<(PathBuf, PathBuf)>,
}

/// The I/O backend of the core threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IoBackend {
    /// io_uring through `tokio-uring`.
    Uring,
    /// epoll through a tokio current-thread runtime.
    Epoll,
    /// io_uring when the kernel allows it, else epoll.
    #[default]
    Auto,
}

/// One listening transport.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// A name for logs: the config's `id`, or `transport<N>`.
    pub id: String,
    /// Where it listens.
    pub endpoint: Endpoint,
    /// What it speaks.
    pub kind: TransportKind,
    /// The most connections open at once, over every core; more are closed
    /// at accept (Crossbar.io's `max_connections`).
    pub max_connections: usize,
}

/// Connections a transport holds when its config sets no
/// `max_connections`: Crossbar.io's default.
pub const DEFAULT_MAX_CONNECTIONS: usize = 50_000;

/// A listening endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// TCP on `interface:port` (every core binds it with `SO_REUSEPORT`).
    Tcp {
        /// The address to bind; `None` means every IPv4 and IPv6 address.
        interface: Option<IpAddr>,
        /// The port.
        port: u16,
        /// The listen backlog.
        backlog: u32,
        /// TLS on this endpoint, when set.
        tls: Option<TlsConfig>,
    },
    /// A Unix domain socket at `path` (accepted by core 0 only).
    Unix {
        /// The socket's path.
        path: PathBuf,
    },
}

impl std::fmt::Display for Endpoint {
    /// `127.0.0.1:8080`, `*:8080` (every address) or `unix:PATH`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Tcp {
                interface: Some(ip),
                port,
                ..
            } => std::net::SocketAddr::new(*ip, *port).fmt(f),
            Endpoint::Tcp {
                interface: None,
                port,
                ..
            } => write!(f, "*:{port}"),
            Endpoint::Unix { path } => write!(f, "unix:{}", path.display()),
        }
    }
}

/// What a transport speaks.
#[derive(Debug, Clone)]
pub enum TransportKind {
    /// WAMP over WebSocket, on `path` (Crossbar.io's `websocket` transport
    /// answers on any path; a `web` transport routes by path).
    WebSocket(WebSocketTransport),
    /// WAMP over RawSocket.
    RawSocket(RawSocketTransport),
    /// A plain WebSocket echo server for the Autobahn WebSocket test suite.
    WebSocketTestee(WebSocketOptions),
    /// An HTTP server whose paths serve WAMP-over-WebSocket, static files,
    /// JSON, redirects or node information.
    Web(WebTransport),
    /// RawSocket, WebSocket and HTTP on one port.
    Universal(UniversalTransport),
}

impl TransportKind {
    /// The transport's `type` in Crossbar.io's config.
    pub fn type_name(&self) -> &'static str {
        match self {
            TransportKind::WebSocket(_) => "websocket",
            TransportKind::RawSocket(_) => "rawsocket",
            TransportKind::WebSocketTestee(_) => "websocket.testee",
            TransportKind::Web(_) => "web",
            TransportKind::Universal(_) => "universal",
        }
    }

    /// The authentication of every WAMP service of the transport (a web
    /// transport has one per websocket path, nested paths included), for
    /// a program that installs its own authenticators.
    pub fn auths_mut(&mut self) -> Vec<&mut Arc<AuthConfig>> {
        let mut auths = Vec::new();
        match self {
            TransportKind::WebSocket(ws) => auths.push(&mut ws.auth),
            TransportKind::RawSocket(rs) => auths.push(&mut rs.auth),
            TransportKind::WebSocketTestee(_) => {}
            TransportKind::Web(web) => web_auths(&mut web.paths, &mut auths),
            TransportKind::Universal(universal) => {
                if let Some(rs) = &mut universal.rawsocket {
                    auths.push(&mut rs.auth);
                }
                web_auths(&mut universal.web.paths, &mut auths);
            }
        }
        auths
    }
}

/// Collects the authentication of the websocket services in `paths`.
fn web_auths<'a>(paths: &'a mut WebPaths, auths: &mut Vec<&'a mut Arc<AuthConfig>>) {
    for (_, service) in paths {
        match service {
            WebService::WebSocket(ws) => auths.push(&mut ws.auth),
            WebService::Path(nested) => web_auths(nested, auths),
            _ => {}
        }
    }
}

/// WAMP over WebSocket.
#[derive(Debug, Clone)]
pub struct WebSocketTransport {
    /// The serializers offered, in the router's order of preference.
    pub serializers: Vec<Serializer>,
    /// The WebSocket options.
    pub options: WebSocketOptions,
    /// How sessions on this transport authenticate (shared by every
    /// connection).
    pub auth: Arc<AuthConfig>,
}

/// Crossbar.io's WebSocket `options` that change behaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSocketOptions {
    /// `max_frame_size`: the largest frame accepted, in bytes.
    pub max_frame_bytes: usize,
    /// `max_message_size`: the largest message accepted, in bytes.
    pub max_message_bytes: usize,
    /// `open_handshake_timeout`: the opening handshake must finish within
    /// this time, in ms (0: no limit).
    pub open_handshake_timeout_ms: u64,
    /// `close_handshake_timeout`: how long to wait for the peer's Close, ms.
    pub close_handshake_timeout_ms: u64,
    /// `auto_ping_interval`: send a Ping after this much silence, ms (0: off).
    pub auto_ping_interval_ms: u64,
    /// `auto_ping_timeout`: close if no Pong arrives within this time, ms
    /// (0: as long as `auto_ping_interval`).
    pub auto_ping_timeout_ms: u64,
    /// `auto_ping_size`: payload bytes of an automatic Ping (4..=125).
    pub auto_ping_size: usize,
    /// `require_websocket_subprotocol`: refuse clients that offer none.
    pub require_subprotocol: bool,
    /// `allowed_origins` and `allow_null_origin`: which browser origins may
    /// open a session.
    pub origins: OriginPolicy,
    /// `compression.deflate`: permessage-deflate is offered to clients that
    /// ask for it; `None`: never negotiated.
    pub deflate: Option<DeflateConfig>,
}

impl Default for WebSocketOptions {
    fn default() -> Self {
        Self {
            max_frame_bytes: 16 << 20,
            max_message_bytes: 16 << 20,
            open_handshake_timeout_ms: 10_000,
            close_handshake_timeout_ms: 1_000,
            auto_ping_interval_ms: 0,
            auto_ping_timeout_ms: 0,
            auto_ping_size: 4,
            require_subprotocol: true,
            origins: OriginPolicy::default(),
            deflate: None,
        }
    }
}

/// WAMP over RawSocket.
#[derive(Debug, Clone)]
pub struct RawSocketTransport {
    /// The serializers accepted.
    pub serializers: Vec<Serializer>,
    /// `max_message_size`: the largest message accepted, in bytes.
    pub max_message_bytes: usize,
    /// How sessions on this transport authenticate (shared by every
    /// connection).
    pub auth: Arc<AuthConfig>,
}

/// An HTTP server with services on paths.
#[derive(Debug, Clone)]
pub struct WebTransport {
    /// The services, by path (`/` is the root).
    pub paths: WebPaths,
    /// How requests and connections are bounded, and what responses add.
    pub options: WebOptions,
}

/// Path services by path segment (`/` is the one that answers the rest).
pub type WebPaths = Vec<(String, WebService)>;

/// A web transport's `options`, and the HTTP limits that Crossbar.io has no
/// key for (fixed, documented defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebOptions {
    /// `client_timeout`: how long a kept-alive connection may stay quiet
    /// between requests, in ms.
    pub client_timeout_ms: u64,
    /// How long a client has to send a whole request head, from its first
    /// byte (or from the connection's start), in ms; then 408.
    pub request_head_timeout_ms: u64,
    /// How long a client has to send a whole request body, in ms; then
    /// 408.
    pub request_body_timeout_ms: u64,
    /// After this many requests a connection is closed, so one client
    /// cannot keep a core's connection forever.
    pub max_requests_per_connection: u32,
    /// Bounds on one request.
    pub limits: ringbar_protocol::http::HttpLimits,
    /// `hsts` with `hsts_max_age`: the `Strict-Transport-Security`
    /// max-age sent over TLS, in seconds.
    pub hsts_max_age_s: Option<u64>,
    /// `access_log`: log one line per request.
    pub access_log: bool,
}

impl Default for WebOptions {
    fn default() -> Self {
        Self {
            client_timeout_ms: 60_000,
            request_head_timeout_ms: 10_000,
            request_body_timeout_ms: 30_000,
            max_requests_per_connection: 1000,
            limits: ringbar_protocol::http::HttpLimits::default(),
            hsts_max_age_s: None,
            access_log: false,
        }
    }
}

/// A service on a path of a web transport.
#[derive(Debug, Clone)]
pub enum WebService {
    /// WAMP over WebSocket.
    WebSocket(WebSocketTransport),
    /// Files from a directory.
    Static(StaticService),
    /// A small page describing the node.
    NodeInfo,
    /// A fixed JSON document.
    Json(JsonService),
    /// `redirect`: a `302 Found` to `url`.
    Redirect {
        /// Where clients are sent.
        url: String,
    },
    /// `path`: more services below this path segment.
    Path(WebPaths),
    /// `publisher`: the REST bridge's HTTP-to-WAMP publisher.
    Publisher(RestService),
    /// `caller`: the REST bridge's HTTP-to-WAMP caller.
    Caller(RestService),
    /// `webhook`: publishes any HTTP POST (a GitHub webhook, say) to a topic.
    Webhook(WebhookService),
    /// Files compiled into the binary (the management console): no
    /// config key names it, the node mounts it.
    Embedded(EmbeddedService),
}

/// A REST bridge path service (`publisher`, `caller`): it acts as a
/// session of `role` on `realm`, so that role's permissions apply.
#[derive(Debug, Clone)]
pub struct RestService {
    /// `realm`: where it publishes or calls.
    pub realm: String,
    /// `role`: whose permissions apply.
    pub role: String,
    /// `options`: how requests are checked.
    pub options: RestOptions,
    /// `options.timeout` (a ringbar extension, ms): how long a `caller`
    /// waits for a result when the request names no `timeout`; an HTTP
    /// request never waits forever.
    pub call_timeout_ms: u64,
}

/// The `caller` timeout when the config gives none: a minute.
pub const DEFAULT_CALL_TIMEOUT_MS: u64 = 60_000;

/// A REST bridge service's request checks (Crossbar.io's `options`).
#[derive(Debug, Clone, Default)]
pub struct RestOptions {
    /// `key` and `secret`: when set, every request must be signed with
    /// them.
    pub signing: Option<RestSigning>,
    /// `require_tls`: refuse requests that did not come over TLS.
    pub require_tls: bool,
    /// `require_ip`: when not empty, refuse requests from TCP peers outside
    /// these networks.
    pub require_ip: Vec<IpNetwork>,
    /// `post_body_limit`: the largest body accepted, bytes (0: the web
    /// transport's own limit).
    pub post_body_limit_bytes: usize,
    /// `timestamp_delta_limit`: how far a request's `timestamp` may be from
    /// now, seconds (0: any).
    pub timestamp_delta_limit_s: u64,
    /// `debug`: log each refused request at info.
    pub debug: bool,
}

/// Crossbar.io's `timestamp_delta_limit` when the config gives none.
pub const DEFAULT_TIMESTAMP_DELTA_LIMIT_S: u64 = 300;

/// The key and secret of signed requests, and the nonces seen recently.
#[derive(Clone)]
pub struct RestSigning {
    /// `key`: what requests name in their `key` parameter.
    pub key: String,
    /// `secret`: the HMAC-SHA256 key of the signature.
    pub secret: String,
    /// The nonces of recent signed requests, shared by every core's copy of
    /// this config so a request replayed to another core is refused too.
    pub seen: SeenNonces,
}

impl std::fmt::Debug for RestSigning {
    // The secret stays out of logs and error messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestSigning")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// A `webhook` service: each request's fields and body become one event.
#[derive(Clone)]
pub struct WebhookService {
    /// `realm` and `role`, and the checks of `options`.
    pub rest: RestService,
    /// `options.topic`: where the events go.
    pub topic: String,
    /// `options.success_response`: the body of a 202 (default `OK`).
    pub success_response: String,
    /// `options.error_response`: the body of a 500 (default `NOT OK`).
    pub error_response: String,
    /// `options.github_secret`: when set, the `X-Hub-Signature` field must
    /// be the body's HMAC-SHA1 with it.
    pub github_secret: Option<String>,
}

impl std::fmt::Debug for WebhookService {
    // The GitHub secret stays out of logs and error messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookService")
            .field("rest", &self.rest)
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

/// A `static` service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticService {
    /// The directory served.
    pub directory: PathBuf,
    /// `enable_directory_listing`: a directory without `index.html` is
    /// listed instead of 404.
    pub enable_directory_listing: bool,
    /// `mime_types`: content types by file extension (`.ext`, lower case),
    /// before the built-in table.
    pub mime_types: BTreeMap<String, String>,
    /// `cache_timeout`: how long clients may cache a file, in seconds
    /// (`None`: no caching headers).
    pub cache_timeout_s: Option<u64>,
    /// `default_file`: served for a path that has no file (single-page
    /// applications), instead of 404.
    pub default_file: Option<PathBuf>,
}

/// Files compiled into the binary, served from memory as they are.
#[derive(Debug, Clone)]
pub struct EmbeddedService {
    /// The files; the one whose `path` is `index.html` answers the mount
    /// itself.
    pub files: Arc<[EmbeddedFile]>,
    /// Fields every response of the service carries (its
    /// `Content-Security-Policy`, say).
    pub fields: Arc<[(&'static str, String)]>,
}

/// One file of an [`EmbeddedService`].
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedFile {
    /// Its path below the mount, without a leading `/`.
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
}

/// A `json` service: its document, serialized once by the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonService {
    /// The serialized `value`.
    pub document: bytes::Bytes,
    /// `allow_cross_origin`: send CORS fields so pages elsewhere can read it.
    pub allow_cross_origin: bool,
    /// `discourage_caching`: send `Cache-Control: no-store`.
    pub discourage_caching: bool,
}

/// A `universal` transport: RawSocket, WebSocket and the web service on
/// one port, told apart by the first bytes a client sends.
#[derive(Debug, Clone)]
pub struct UniversalTransport {
    /// `rawsocket`: serves clients whose first octet is 0x7F.
    pub rawsocket: Option<RawSocketTransport>,
    /// `websocket` and `web` together: the HTTP side, where the websocket
    /// paths come first as in Crossbar.io.
    pub web: WebTransport,
}

/// TLS on a TCP endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// `key`: the server's private key (PEM).
    pub key: PathBuf,
    /// `certificate`: the server's certificate (PEM), optionally followed
    /// by its chain.
    pub certificate: PathBuf,
    /// `chain_certificates`: intermediate certificates sent after it.
    pub chain_certificates: Vec<PathBuf>,
    /// `ca_certificates`: the CAs client certificates are checked against;
    /// with any, clients present a certificate (see below).
    pub ca_certificates: Vec<PathBuf>,
    /// Refuse clients without a certificate signed by one of
    /// `ca_certificates` (the default with CAs, as in Crossbar.io); when
    /// false, a certificate is optional (ringbar's
    /// `require_client_certificate: false`).
    pub require_client_certificate: bool,
}
