//! Serde types of Crossbar.io's `config.json` (version 2) and ringbar's own
//! `"ringbar"` section.
//!
//! Objects chosen by a `type` key, and lists of objects, are kept as
//! [`Value`] and read one by one (see `read`), so that every error gets its
//! own path. Integers are `i64` so that the converters can range-check them
//! with a message that names the range. Keys that Crossbar.io accepts but
//! ringbar does not need are listed beside the converters, not here.

use serde::Deserialize;
use serde_json::{Map, Value};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a config object")]
pub(crate) struct NodeFile {
    /// `version`: must be 2.
    #[serde(default)]
    pub(crate) version: Option<Value>,
    /// `controller`: the node controller (accepted, not used).
    #[serde(default)]
    pub(crate) controller: Option<Value>,
    /// `workers`: the worker processes; ringbar runs the router.
    #[serde(default)]
    pub(crate) workers: Option<Value>,
    /// `ringbar`: ringbar's own settings.
    #[serde(default)]
    pub(crate) ringbar: Option<Value>,
}

/// `controller` (Crossbar.io's node controller process); nothing in it
/// applies to ringbar, but its keys are known.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a controller object")]
pub(crate) struct ControllerFile {}

/// A worker of `"type": "router"`.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a router worker object")]
pub(crate) struct RouterWorkerFile {
    /// `realms`.
    #[serde(default)]
    pub(crate) realms: Vec<Value>,
    /// `transports`.
    #[serde(default)]
    pub(crate) transports: Vec<Value>,
    /// `connections`: outgoing connections of the router process.
    #[serde(default)]
    pub(crate) connections: Vec<Value>,
}

/// A worker of `"type": "websocket-testee"`: one WebSocket echo transport.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a websocket-testee worker object")]
pub(crate) struct TesteeWorkerFile {
    /// `transport`.
    pub(crate) transport: Value,
}

/// The `options` of a router or `websocket-testee` worker (Crossbar.io's
/// native worker options).
#[derive(Debug, Deserialize)]
#[serde(expecting = "worker options")]
pub(crate) struct WorkerOptionsFile {
    /// `disabled`: `true`, or `"$VAR"` (disabled when the variable is set
    /// and not empty): the worker is checked but not started.
    #[serde(default)]
    pub(crate) disabled: Option<Value>,
}

/// A realm of a router worker.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a realm object")]
pub(crate) struct RealmFile {
    /// `name`: the realm's URI.
    pub(crate) name: String,
    /// `roles`.
    #[serde(default)]
    pub(crate) roles: Vec<Value>,
    /// `options`.
    #[serde(default)]
    pub(crate) options: Option<Value>,
    /// `store`: the event history store.
    #[serde(default)]
    pub(crate) store: Option<Value>,
}

/// A realm's `options`.
#[derive(Debug, Deserialize)]
#[serde(expecting = "realm options")]
pub(crate) struct RealmOptionsFile {
    /// `uri_check`: `"strict"` (the default) or `"loose"`.
    #[serde(default)]
    pub(crate) uri_check: Option<String>,
    /// `enable_meta_api`: offer the WAMP meta API (default true).
    #[serde(default)]
    pub(crate) enable_meta_api: Option<bool>,
}

/// A role of a realm.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a role object")]
pub(crate) struct RoleFile {
    /// `name`: the `authrole`.
    pub(crate) name: String,
    /// `permissions`: static permissions.
    #[serde(default)]
    pub(crate) permissions: Vec<Value>,
    /// `authorizer`: a dynamic authorizer's procedure.
    #[serde(default)]
    pub(crate) authorizer: Option<Value>,
    /// `create` (ringbar's, in the realm template `"*"`): sessions of this
    /// role may create a realm by joining it.
    #[serde(default)]
    pub(crate) create: Option<bool>,
}

/// A permission of a role.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a permission object")]
pub(crate) struct PermissionFile {
    /// `uri`: a URI or pattern; without `match`, a trailing `*` means prefix.
    pub(crate) uri: String,
    /// `match`: `exact`, `prefix` or `wildcard`.
    #[serde(default, rename = "match")]
    pub(crate) match_policy: Option<String>,
    /// `allow`.
    #[serde(default)]
    pub(crate) allow: Option<AllowFile>,
    /// `disclose`.
    #[serde(default)]
    pub(crate) disclose: Option<DiscloseFile>,
    /// `cache`.
    #[serde(default)]
    pub(crate) cache: Option<bool>,
    /// `validate`: payload validation by type.
    #[serde(default)]
    pub(crate) validate: Option<Value>,
}

/// A permission's `allow`; a missing action is not allowed.
#[derive(Debug, Default, Deserialize)]
#[serde(expecting = "an object of call, register, publish, subscribe")]
pub(crate) struct AllowFile {
    /// `call`.
    #[serde(default)]
    pub(crate) call: bool,
    /// `register`.
    #[serde(default)]
    pub(crate) register: bool,
    /// `publish`.
    #[serde(default)]
    pub(crate) publish: bool,
    /// `subscribe`.
    #[serde(default)]
    pub(crate) subscribe: bool,
    /// `list` (ringbar's): see matching subscriptions and registrations in
    /// the meta API.
    #[serde(default)]
    pub(crate) list: Option<bool>,
}

/// A permission's `disclose`; missing means not disclosed.
#[derive(Debug, Default, Deserialize)]
#[serde(expecting = "an object of caller, publisher")]
pub(crate) struct DiscloseFile {
    /// `caller`.
    #[serde(default)]
    pub(crate) caller: bool,
    /// `publisher`.
    #[serde(default)]
    pub(crate) publisher: bool,
}

/// A `websocket` transport, or a `websocket` service on a web path.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a websocket object")]
pub(crate) struct WebSocketFile {
    /// `id`.
    #[serde(default)]
    pub(crate) id: Option<String>,
    /// `endpoint` (a transport has one, a path service does not).
    #[serde(default)]
    pub(crate) endpoint: Option<Value>,
    /// `serializers`; all of them when absent.
    #[serde(default)]
    pub(crate) serializers: Option<Vec<String>>,
    /// `options`.
    #[serde(default)]
    pub(crate) options: Option<Value>,
    /// `auth`.
    #[serde(default)]
    pub(crate) auth: Option<Map<String, Value>>,
    /// `cookie`: cookie tracking.
    #[serde(default)]
    pub(crate) cookie: Option<Value>,
}

/// A `rawsocket` transport.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a rawsocket transport object")]
pub(crate) struct RawSocketFile {
    /// `id`.
    #[serde(default)]
    pub(crate) id: Option<String>,
    /// `endpoint` (a universal transport's `rawsocket` has none).
    #[serde(default)]
    pub(crate) endpoint: Option<Value>,
    /// `serializers`; all of them when absent.
    #[serde(default)]
    pub(crate) serializers: Option<Vec<String>>,
    /// `options`.
    #[serde(default)]
    pub(crate) options: Option<RawSocketOptionsFile>,
    /// `max_message_size` beside `options`, as older configs have it.
    #[serde(default)]
    pub(crate) max_message_size: Option<i64>,
    /// `auth`.
    #[serde(default)]
    pub(crate) auth: Option<Map<String, Value>>,
}

/// A RawSocket transport's `options`.
#[derive(Debug, Deserialize)]
#[serde(expecting = "rawsocket options")]
pub(crate) struct RawSocketOptionsFile {
    /// `max_message_size`, in bytes.
    #[serde(default)]
    pub(crate) max_message_size: Option<i64>,
}

/// A `websocket.testee` transport.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a websocket.testee transport object")]
pub(crate) struct TesteeFile {
    /// `id`.
    #[serde(default)]
    pub(crate) id: Option<String>,
    /// `endpoint`.
    pub(crate) endpoint: Value,
    /// `options`: WebSocket options.
    #[serde(default)]
    pub(crate) options: Option<Value>,
}

/// A `web` transport (or the `web` of a universal one, without
/// endpoint).
#[derive(Debug, Deserialize)]
#[serde(expecting = "a web transport object")]
pub(crate) struct WebFile {
    /// `id`.
    #[serde(default)]
    pub(crate) id: Option<String>,
    /// `endpoint`.
    #[serde(default)]
    pub(crate) endpoint: Option<Value>,
    /// `paths`: services by path.
    pub(crate) paths: Map<String, Value>,
    /// `options`: HTTP options.
    #[serde(default)]
    pub(crate) options: Option<Value>,
}

/// A web transport's `options`.
#[derive(Debug, Default, Deserialize)]
#[serde(expecting = "web transport options")]
pub(crate) struct WebOptionsFile {
    /// `access_log`: one log line per request.
    #[serde(default)]
    pub(crate) access_log: Option<bool>,
    /// `hsts`: send `Strict-Transport-Security` over TLS.
    #[serde(default)]
    pub(crate) hsts: Option<bool>,
    /// `hsts_max_age`, seconds.
    #[serde(default)]
    pub(crate) hsts_max_age: Option<i64>,
    /// `client_timeout`: idle seconds between requests (`null`: the
    /// default).
    #[serde(default)]
    pub(crate) client_timeout: Option<i64>,
}

/// A `universal` transport.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a universal transport object")]
pub(crate) struct UniversalFile {
    /// `id`.
    #[serde(default)]
    pub(crate) id: Option<String>,
    /// `endpoint`.
    pub(crate) endpoint: Value,
    /// `rawsocket`: a rawsocket transport without endpoint.
    #[serde(default)]
    pub(crate) rawsocket: Option<Value>,
    /// `websocket`: websocket transports without endpoint, by path.
    #[serde(default)]
    pub(crate) websocket: Option<Map<String, Value>>,
    /// `web`: a web transport without endpoint.
    #[serde(default)]
    pub(crate) web: Option<Value>,
}

/// A `static` service on a web path.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a static path service object")]
pub(crate) struct StaticFile {
    /// `directory`, relative to the node directory.
    #[serde(default)]
    pub(crate) directory: Option<String>,
    /// `package`: a Python package to serve from.
    #[serde(default)]
    pub(crate) package: Option<String>,
    /// `resource`: the resource in `package`.
    #[serde(default)]
    pub(crate) resource: Option<String>,
    /// `options`.
    #[serde(default)]
    pub(crate) options: Option<StaticOptionsFile>,
}

/// A `static` service's `options`.
#[derive(Debug, Default, Deserialize)]
#[serde(expecting = "static options")]
pub(crate) struct StaticOptionsFile {
    /// `enable_directory_listing`.
    #[serde(default)]
    pub(crate) enable_directory_listing: Option<bool>,
    /// `mime_types`: content types by extension (`.ext`).
    #[serde(default)]
    pub(crate) mime_types: Option<std::collections::BTreeMap<String, String>>,
    /// `cache_timeout`, seconds; `null` sends no caching fields, so a
    /// present `null` is `Some(Value::Null)`.
    #[serde(default, deserialize_with = "present")]
    pub(crate) cache_timeout: Option<Value>,
    /// `default_file`: served where a path has no file.
    #[serde(default)]
    pub(crate) default_file: Option<String>,
}

/// A key that is present, `null` included (serde reads a `null` into
/// `Option` as `None`, like an absent key).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// A `json` service.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a json path service object")]
pub(crate) struct JsonFile {
    /// `value`: the document.
    pub(crate) value: Value,
    /// `options`.
    #[serde(default)]
    pub(crate) options: Option<JsonOptionsFile>,
}

/// A `json` service's `options`.
#[derive(Debug, Default, Deserialize)]
#[serde(expecting = "json options")]
pub(crate) struct JsonOptionsFile {
    /// `prettify`: indent the document.
    #[serde(default)]
    pub(crate) prettify: Option<bool>,
    /// `allow_cross_origin` (default true).
    #[serde(default)]
    pub(crate) allow_cross_origin: Option<bool>,
    /// `discourage_caching`.
    #[serde(default)]
    pub(crate) discourage_caching: Option<bool>,
}

/// A `redirect` service.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a redirect path service object")]
pub(crate) struct RedirectFile {
    /// `url`: where clients are sent.
    pub(crate) url: String,
}

/// A `path` service: services on the segments below it.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a path service object")]
pub(crate) struct NestedPathFile {
    /// `paths`.
    pub(crate) paths: Map<String, Value>,
}

/// A service without settings (`nodeinfo`), and the target of option
/// objects whose every key is accepted and ignored.
#[derive(Debug, Deserialize)]
#[serde(expecting = "an object")]
pub(crate) struct NoFields {}

/// WebSocket `options`, in Crossbar.io's names and units (ms, bytes).
#[derive(Debug, Default, Deserialize)]
#[serde(expecting = "websocket options")]
pub(crate) struct WebSocketOptionsFile {
    /// `max_frame_size`, bytes (0: no limit in Crossbar.io).
    #[serde(default)]
    pub(crate) max_frame_size: Option<i64>,
    /// `max_message_size`, bytes.
    #[serde(default)]
    pub(crate) max_message_size: Option<i64>,
    /// `open_handshake_timeout`, ms.
    #[serde(default)]
    pub(crate) open_handshake_timeout: Option<i64>,
    /// `close_handshake_timeout`, ms.
    #[serde(default)]
    pub(crate) close_handshake_timeout: Option<i64>,
    /// `auto_ping_interval`, ms.
    #[serde(default)]
    pub(crate) auto_ping_interval: Option<i64>,
    /// `auto_ping_timeout`, ms.
    #[serde(default)]
    pub(crate) auto_ping_timeout: Option<i64>,
    /// `auto_ping_size`, bytes.
    #[serde(default)]
    pub(crate) auto_ping_size: Option<i64>,
    /// `require_websocket_subprotocol`.
    #[serde(default)]
    pub(crate) require_websocket_subprotocol: Option<bool>,
    /// `allowed_origins`: `Origin` patterns.
    #[serde(default)]
    pub(crate) allowed_origins: Option<Vec<String>>,
    /// `allow_null_origin`: whether `Origin: null` may connect.
    #[serde(default)]
    pub(crate) allow_null_origin: Option<bool>,
    /// `compression`: permessage-deflate settings.
    #[serde(default)]
    pub(crate) compression: Option<CompressionFile>,
}

/// WebSocket `compression`: the compression extensions to negotiate.
#[derive(Debug, Deserialize)]
#[serde(expecting = "websocket compression options")]
pub(crate) struct CompressionFile {
    /// `deflate`: permessage-deflate (RFC 7692).
    #[serde(default)]
    pub(crate) deflate: Option<DeflateFile>,
}

/// `compression.deflate`, in Autobahn's names.
#[derive(Debug, Deserialize)]
#[serde(expecting = "permessage-deflate options")]
pub(crate) struct DeflateFile {
    /// `request_no_context_takeover`: ask clients to compress each message
    /// on its own.
    #[serde(default)]
    pub(crate) request_no_context_takeover: Option<bool>,
    /// `request_max_window_bits`: ask clients for this window (0: do not).
    #[serde(default)]
    pub(crate) request_max_window_bits: Option<i64>,
    /// `no_context_takeover`: compress each message on its own.
    #[serde(default)]
    pub(crate) no_context_takeover: Option<bool>,
    /// `max_window_bits`: the server's compression window.
    #[serde(default)]
    pub(crate) max_window_bits: Option<i64>,
    /// `memory_level`: zlib's memory level.
    #[serde(default)]
    pub(crate) memory_level: Option<i64>,
}

/// A `tcp` endpoint.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a tcp endpoint object")]
pub(crate) struct TcpEndpointFile {
    /// `port`: a number, or `"$VAR"` / `"${VAR}"` naming an environment
    /// variable.
    #[serde(default)]
    pub(crate) port: Option<Value>,
    /// `portrange`: the first free port of a range.
    #[serde(default)]
    pub(crate) portrange: Option<Value>,
    /// `interface`: the address to listen on.
    #[serde(default)]
    pub(crate) interface: Option<String>,
    /// `backlog`: the listen queue length.
    #[serde(default)]
    pub(crate) backlog: Option<i64>,
    /// `version`: 4 or 6.
    #[serde(default)]
    pub(crate) version: Option<i64>,
    /// `tls`.
    #[serde(default)]
    pub(crate) tls: Option<Value>,
}

/// A `unix` endpoint.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a unix endpoint object")]
pub(crate) struct UnixEndpointFile {
    /// `path`, relative to the node directory.
    pub(crate) path: String,
    /// `backlog`.
    #[serde(default)]
    pub(crate) backlog: Option<i64>,
}

/// The `anonymous` method of a transport's `auth`.
#[derive(Debug, Deserialize)]
#[serde(expecting = "an anonymous auth object")]
pub(crate) struct AnonymousAuthFile {
    /// `type`: `static` (others are dynamic).
    #[serde(rename = "type")]
    pub(crate) kind: String,
    /// `role`: the role anonymous sessions get.
    #[serde(default)]
    pub(crate) role: Option<String>,
    /// `authid`: the authid anonymous sessions get.
    #[serde(default)]
    pub(crate) authid: Option<String>,
    /// `realm`: the only realm anonymous sessions may join.
    #[serde(default)]
    pub(crate) realm: Option<String>,
}

/// ringbar's own settings, the top-level `"ringbar"` object.
#[derive(Debug, Default, Deserialize)]
#[serde(expecting = "ringbar settings")]
pub(crate) struct RingbarFile {
    /// `cores`: core threads to run.
    #[serde(default)]
    pub(crate) cores: Option<i64>,
    /// `io`: `uring`, `epoll` or `auto`.
    #[serde(default)]
    pub(crate) io: Option<String>,
    /// `flow`: per-session flow control.
    #[serde(default)]
    pub(crate) flow: Option<FlowFile>,
    /// `limits`: what one session may hold.
    #[serde(default)]
    pub(crate) limits: Option<LimitsFile>,
    /// `shutdown_timeout_ms`.
    #[serde(default)]
    pub(crate) shutdown_timeout_ms: Option<i64>,
}

/// `ringbar.flow`.
#[derive(Debug, Default, Deserialize)]
#[serde(expecting = "flow settings")]
pub(crate) struct FlowFile {
    /// `max_queued_bytes`: a session's outbound queue limit.
    #[serde(default)]
    pub(crate) max_queued_bytes: Option<i64>,
    /// `max_core_queued_bytes`: the limit of all queues of one core.
    #[serde(default)]
    pub(crate) max_core_queued_bytes: Option<i64>,
    /// `slow_consumer`: `drop` or `disconnect`.
    #[serde(default)]
    pub(crate) slow_consumer: Option<String>,
}

/// `ringbar.limits`.
#[derive(Debug, Default, Deserialize)]
#[serde(expecting = "limits")]
pub(crate) struct LimitsFile {
    /// `max_subscriptions_per_session`.
    #[serde(default)]
    pub(crate) max_subscriptions_per_session: Option<i64>,
    /// `max_registrations_per_session`.
    #[serde(default)]
    pub(crate) max_registrations_per_session: Option<i64>,
    /// `max_retained_bytes_per_realm`.
    #[serde(default)]
    pub(crate) max_retained_bytes_per_realm: Option<i64>,
    /// `join_timeout_ms`.
    #[serde(default)]
    pub(crate) join_timeout_ms: Option<i64>,
    /// `max_connections`: on all transports together.
    #[serde(default)]
    pub(crate) max_connections: Option<i64>,
    /// `idle_timeout_ms`: 0 for none.
    #[serde(default)]
    pub(crate) idle_timeout_ms: Option<i64>,
}

/// A method of a transport's `auth` that has principals (`ticket`,
/// `wampcra`, `cryptosign`, `tls`).
#[derive(Debug, Deserialize)]
#[serde(expecting = "an authentication method object")]
pub(crate) struct MethodAuthFile {
    /// `type`: `static`, `dynamic` or `function`.
    #[serde(rename = "type")]
    pub(crate) kind: String,
    /// `principals`: by authid (`ticket`, `cryptosign`, `tls`).
    #[serde(default)]
    pub(crate) principals: Option<Map<String, Value>>,
    /// `users`: by authid (`wampcra`'s name for principals).
    #[serde(default)]
    pub(crate) users: Option<Map<String, Value>>,
    /// `authenticator`: the procedure of a dynamic authenticator.
    #[serde(default)]
    pub(crate) authenticator: Option<Value>,
    /// `authenticator-realm`: the realm of a dynamic authenticator.
    #[serde(default, rename = "authenticator-realm")]
    pub(crate) authenticator_realm: Option<Value>,
    /// `authenticator-role`: the role Crossbar.io calls the authenticator
    /// with; ringbar's router calls it as itself, so it is not needed.
    #[serde(default, rename = "authenticator-role")]
    pub(crate) authenticator_role: Option<Value>,
    /// `create`: a function authenticator.
    #[serde(default)]
    pub(crate) create: Option<Value>,
    /// `trustroots`: cryptosign certificates (not supported).
    #[serde(default)]
    pub(crate) trustroots: Option<Value>,
}

/// A static `ticket` principal.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a ticket principal object")]
pub(crate) struct TicketPrincipalFile {
    /// `ticket`: the secret, or `"$VAR"` naming an environment variable.
    pub(crate) ticket: String,
    /// `role`.
    #[serde(default)]
    pub(crate) role: Option<String>,
    /// `realm`: the only realm this principal may join.
    #[serde(default)]
    pub(crate) realm: Option<String>,
}

/// A static `wampcra` user.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a wampcra user object")]
pub(crate) struct WampCraUserFile {
    /// `secret`: the secret (the password when salted), or `"$VAR"`.
    pub(crate) secret: String,
    /// `role`.
    #[serde(default)]
    pub(crate) role: Option<String>,
    /// `realm`: the only realm this user may join.
    #[serde(default)]
    pub(crate) realm: Option<String>,
    /// `salt`: PBKDF2 salt.
    #[serde(default)]
    pub(crate) salt: Option<String>,
    /// `iterations`: PBKDF2 iterations.
    #[serde(default)]
    pub(crate) iterations: Option<i64>,
    /// `keylen`: PBKDF2 derived key length, bytes.
    #[serde(default)]
    pub(crate) keylen: Option<i64>,
}

/// A static `cryptosign` principal.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a cryptosign principal object")]
pub(crate) struct CryptosignPrincipalFile {
    /// `authorized_keys`: hex Ed25519 public keys.
    pub(crate) authorized_keys: Vec<String>,
    /// `role`.
    #[serde(default)]
    pub(crate) role: Option<String>,
    /// `realm`: the only realm this principal may join.
    #[serde(default)]
    pub(crate) realm: Option<String>,
}

/// A static `tls` principal.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a tls principal object")]
pub(crate) struct TlsPrincipalFile {
    /// `certificate-sha1`: the client certificate's SHA-1 fingerprint.
    #[serde(rename = "certificate-sha1")]
    pub(crate) certificate_sha1: String,
    /// `role`.
    #[serde(default)]
    pub(crate) role: Option<String>,
    /// `realm`: the only realm this principal may join.
    #[serde(default)]
    pub(crate) realm: Option<String>,
}

/// A TCP endpoint's `tls`.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a tls object")]
pub(crate) struct TlsFile {
    /// `key`: the server's private key file (PEM).
    pub(crate) key: String,
    /// `certificate`: the server's certificate file (PEM).
    pub(crate) certificate: String,
    /// `chain_certificates`: intermediate certificate files.
    #[serde(default)]
    pub(crate) chain_certificates: Vec<String>,
    /// `ca_certificates`: CA files client certificates are checked against.
    #[serde(default)]
    pub(crate) ca_certificates: Vec<String>,
    /// `require_client_certificate` (ringbar): refuse clients without one
    /// (default: whenever `ca_certificates` are given, as Crossbar.io does).
    #[serde(default)]
    pub(crate) require_client_certificate: Option<bool>,
}

/// A worker of `"type": "guest"`: an external program the node starts and
/// supervises.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a guest worker object")]
pub(crate) struct GuestWorkerFile {
    /// `id`: the worker's name (`worker<NNN>` when absent).
    #[serde(default)]
    pub(crate) id: Option<String>,
    /// `executable`: the program, relative to `options.workdir`, else
    /// looked up on `PATH`.
    pub(crate) executable: String,
    /// `arguments`: the program's arguments.
    #[serde(default)]
    pub(crate) arguments: Vec<String>,
    /// `options`: read as [`GuestOptionsFile`].
    #[serde(default)]
    pub(crate) options: Option<Value>,
    /// `restart` (ringbar): `"never"`, `"on-failure"`, `"always"`, or an
    /// object with the policy and its backoff.
    #[serde(default)]
    pub(crate) restart: Option<Value>,
}

/// A guest worker's `options`.
#[derive(Debug, Default, Deserialize)]
#[serde(expecting = "guest worker options")]
pub(crate) struct GuestOptionsFile {
    /// `workdir`: the working directory, relative to the node directory.
    #[serde(default)]
    pub(crate) workdir: Option<String>,
    /// `env`: the process environment.
    #[serde(default)]
    pub(crate) env: Option<ProcessEnvFile>,
    /// `stdin`: `"close"`, or `{"type": "json", "value": ..., "close": true}`.
    #[serde(default)]
    pub(crate) stdin: Option<Value>,
    /// `stdout`: `log`, `drop` or `close`.
    #[serde(default)]
    pub(crate) stdout: Option<String>,
    /// `stderr`: `log`, `drop` or `close`.
    #[serde(default)]
    pub(crate) stderr: Option<String>,
}

/// A worker's `options.env`.
#[derive(Debug, Default, Deserialize)]
#[serde(expecting = "an env object of inherit, vars")]
pub(crate) struct ProcessEnvFile {
    /// `inherit`: `true` (the default), `false`, or the names to inherit.
    #[serde(default)]
    pub(crate) inherit: Option<Value>,
    /// `vars`: variables to set.
    #[serde(default)]
    pub(crate) vars: Map<String, Value>,
}

/// A guest worker's `stdin` object: a value written to the guest at start.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a stdin object of type, value, close")]
pub(crate) struct GuestStdinFile {
    /// `type`: the encoding, `json`.
    #[serde(rename = "type")]
    pub(crate) kind: String,
    /// `value`: what is written.
    pub(crate) value: Value,
    /// `close`: close stdin after writing (default true).
    #[serde(default)]
    pub(crate) close: Option<bool>,
}

/// A guest worker's `restart` object (ringbar).
#[derive(Debug, Deserialize)]
#[serde(expecting = "a restart object of policy, delay_ms, max_delay_ms, reset_after_ms")]
pub(crate) struct RestartFile {
    /// `policy`: `never`, `on-failure` or `always`.
    pub(crate) policy: String,
    /// `delay_ms`: the first delay before a restart.
    #[serde(default)]
    pub(crate) delay_ms: Option<i64>,
    /// `max_delay_ms`: the delay doubles up to this.
    #[serde(default)]
    pub(crate) max_delay_ms: Option<i64>,
    /// `reset_after_ms`: a run this long resets the delay to `delay_ms`.
    #[serde(default)]
    pub(crate) reset_after_ms: Option<i64>,
}
