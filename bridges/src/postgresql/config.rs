//! What a `postgresql-bridge` worker does, already checked: the node reads
//! the worker's `database`, `publisher`, `procedures`, `subscriptions` and
//! `caller` into these, with a JSON path for every error
//! (`node/src/config/bridge/postgresql.rs`).

use std::time::Duration;

use ringbar_client::TlsRoots;

/// One `postgresql-bridge` worker's work.
#[derive(Debug, Clone)]
pub struct PostgresqlBridge {
    /// `database`: where the database is and how to log in.
    pub database: Database,
    /// `publisher`: publish what `ringbar.publish` puts in the outbox.
    pub publisher: bool,
    /// `procedures`: SQL functions registered as WAMP procedures.
    pub procedures: Vec<ProcedureSource>,
    /// `registration_policy`: the invocation policy the procedures are
    /// registered with, so several bridges can serve one database.
    pub registration_policy: String,
    /// `call_timeout_ms`: how long one SQL function may run when the CALL
    /// gives no `timeout`.
    pub call_timeout: Duration,
    /// `subscriptions`: topics whose events are handed to SQL functions.
    pub subscriptions: Vec<SqlSubscription>,
    /// `max_queued_events`: events that may wait for a subscription's
    /// function; more are dropped and counted.
    pub max_queued_events: usize,
    /// `caller`: perform the calls `ringbar.call` queues.
    pub caller: bool,
}

/// `database`: a PostgreSQL server and the login to it.
#[derive(Clone)]
pub struct Database {
    /// `host`: a name, an address, or a Unix socket folder (`/...`).
    pub host: String,
    /// `port`.
    pub port: u16,
    /// `dbname`.
    pub dbname: String,
    /// `user`.
    pub user: String,
    /// The password, read from `password`, `password_env` or
    /// `password_file`; `None` for none.
    pub password: Option<String>,
    /// `sslmode`: whether to use TLS and what to check.
    pub sslmode: SslMode,
    /// `sslrootcert`: the CAs the server's certificate must chain to
    /// (needed by `verify-ca` and `verify-full`; checked with any mode
    /// when given, as libpq does).
    pub sslrootcert: Option<TlsRoots>,
    /// `pool_size`: the most connections the bridge opens for calls and
    /// subscriptions (the publisher and the listener have one each beside).
    pub pool_size: usize,
    /// `connect_timeout_ms`: how long one connection attempt may take.
    pub connect_timeout: Duration,
}

/// `database.sslmode`, as libpq spells and means it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// `disable`: never TLS.
    Disable,
    /// `allow`: TLS when the server insists (ringbar: tried first, as
    /// `prefer`; it connects whenever libpq would).
    Allow,
    /// `prefer`: TLS when the server offers it (the default).
    Prefer,
    /// `require`: TLS or nothing; the certificate is not checked.
    Require,
    /// `verify-ca`: TLS with a certificate that chains to `sslrootcert`.
    VerifyCa,
    /// `verify-full`: as `verify-ca`, and the certificate names `host`.
    VerifyFull,
}

/// One entry of `procedures`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcedureSource {
    /// `{"procedure", "function"}`: one function as one procedure.
    Function {
        /// The procedure URI.
        procedure: String,
        /// `schema.name` (or `name`, looked up in `public`).
        function: String,
    },
    /// `{"prefix", "schema"}`: every function of `schema` as
    /// `<prefix><function name>`.
    Schema {
        /// The URI prefix, ending in `.`.
        prefix: String,
        /// The schema.
        schema: String,
    },
}

/// One entry of `subscriptions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlSubscription {
    /// `topic`: the topic or pattern.
    pub topic: String,
    /// `match`: `exact`, `prefix` or `wildcard`.
    pub match_policy: String,
    /// `function`: called as `function(topic, args, kwargs, details)`.
    pub function: String,
}

/// The PostgreSQL port when `database.port` is not set.
pub const DEFAULT_PORT: u16 = 5432;
/// Connections in the pool when `database.pool_size` is not set.
pub const DEFAULT_POOL_SIZE: usize = 8;
/// How long one connection attempt may take when `connect_timeout_ms` is
/// not set.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The invocation policy when `registration_policy` is not set.
pub const DEFAULT_REGISTRATION_POLICY: &str = "roundrobin";
/// How long a call's SQL may run when neither the CALL nor
/// `call_timeout_ms` says.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Events waiting for SQL when `max_queued_events` is not set.
pub const DEFAULT_MAX_QUEUED_EVENTS: usize = 10_000;

impl std::fmt::Debug for Database {
    // Never the password: configs end up in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Database({}@{}:{}/{})",
            self.user, self.host, self.port, self.dbname
        )
    }
}

impl std::fmt::Display for Database {
    /// How logs name it: never with the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PostgreSQL {}@{}:{}/{}",
            self.user, self.host, self.port, self.dbname
        )
    }
}
