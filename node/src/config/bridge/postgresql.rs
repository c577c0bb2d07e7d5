//! The `postgresql-bridge` worker (ringbar's; Crossbar.io's PostgreSQL
//! bridge was removed unfinished): its `router`, `database`, `publisher`,
//! `procedures`, `subscriptions` and `caller`, read into a
//! [`PostgresqlBridge`] with a JSON path for every error.

use std::time::Duration;

use ringbar_bridges::postgresql::config::{
    DEFAULT_CALL_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_QUEUED_EVENTS, DEFAULT_POOL_SIZE,
    DEFAULT_PORT, DEFAULT_REGISTRATION_POLICY, Database, PostgresqlBridge, ProcedureSource,
    SqlSubscription, SslMode,
};
use ringbar_client::TlsRoots;
use ringbar_protocol::uri::MatchPolicy;
use serde::Deserialize;
use serde_json::Value;

use super::component::{bounded, match_policy, uri};
use super::router::RouterFile;
use crate::config::convert::Env;
use crate::config::diag::{Diagnostics, Path};
use crate::config::read::{Accept, read, read_with};

#[derive(Debug, Deserialize)]
#[serde(expecting = "a postgresql-bridge worker object")]
struct WorkerFile {
    router: Value,
    database: Value,
    #[serde(default)]
    publisher: bool,
    #[serde(default)]
    procedures: Vec<Value>,
    #[serde(default)]
    registration_policy: Option<String>,
    #[serde(default)]
    call_timeout_ms: Option<i64>,
    #[serde(default)]
    subscriptions: Vec<Value>,
    #[serde(default)]
    max_queued_events: Option<i64>,
    #[serde(default)]
    caller: bool,
}

#[derive(Debug, Deserialize)]
#[serde(expecting = "a database object of host, port, dbname, user, password_env")]
struct DatabaseFile {
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    port: Option<i64>,
    dbname: String,
    user: String,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    password_env: Option<String>,
    #[serde(default)]
    password_file: Option<String>,
    #[serde(default)]
    sslmode: Option<String>,
    #[serde(default)]
    sslrootcert: Option<String>,
    #[serde(default)]
    pool_size: Option<i64>,
    #[serde(default)]
    connect_timeout_ms: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(expecting = "a procedures entry: {procedure, function} or {prefix, schema}")]
struct ProcedureFile {
    #[serde(default)]
    procedure: Option<String>,
    #[serde(default)]
    function: Option<String>,
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    schema: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(expecting = "a subscriptions entry of topic, match, function")]
struct SubscriptionFile {
    topic: String,
    #[serde(default, rename = "match")]
    match_policy: Option<String>,
    function: String,
}

/// The invocation policies a shared registration may have.
const POLICIES: [&str; 5] = ["single", "roundrobin", "random", "first", "last"];
/// The most connections in the pool.
const MAX_POOL_SIZE: i64 = 1000;
/// The longest timeout accepted: a day.
const MAX_TIMEOUT_MS: i64 = 86_400_000;
/// The most events that may wait for SQL.
const MAX_QUEUED_EVENTS: i64 = 1 << 24;

/// What the worker object at `path` does; `None` after errors in `diag`.
/// `dir` is the node directory (for `password_file`).
pub(super) fn bridge(
    worker: &Value,
    path: &Path,
    dir: &std::path::Path,
    env: Env<'_>,
    diag: &mut Diagnostics,
) -> Option<(RouterFile, PostgresqlBridge)> {
    // `options` are read by `convert::disabled`.
    let accept = Accept::silent(&["type", "id", "options"]);
    let file: WorkerFile = read_with(worker, path, diag, accept)?;
    let errors = diag.error_count();
    let router: Option<RouterFile> = read(&file.router, &path.key("router"), diag);
    let database = database(&file.database, &path.key("database"), dir, env, diag);
    let procedures: Vec<ProcedureSource> = file
        .procedures
        .iter()
        .enumerate()
        .filter_map(|(i, v)| procedure(v, &path.key("procedures").index(i), diag))
        .collect();
    let subscriptions: Vec<SqlSubscription> = file
        .subscriptions
        .iter()
        .enumerate()
        .filter_map(|(i, v)| subscription(v, &path.key("subscriptions").index(i), diag))
        .collect();
    let registration_policy = file
        .registration_policy
        .unwrap_or_else(|| DEFAULT_REGISTRATION_POLICY.to_owned());
    if !POLICIES.contains(&registration_policy.as_str()) {
        diag.error(
            &path.key("registration_policy"),
            format!(
                "\"{registration_policy}\" is not an invocation policy ({})",
                POLICIES.join(", ")
            ),
        );
    }
    let call_timeout = bounded(
        file.call_timeout_ms,
        DEFAULT_CALL_TIMEOUT.as_millis() as i64,
        1..=MAX_TIMEOUT_MS,
        &path.key("call_timeout_ms"),
        "milliseconds",
        diag,
    );
    let max_queued_events = bounded(
        file.max_queued_events,
        DEFAULT_MAX_QUEUED_EVENTS as i64,
        1..=MAX_QUEUED_EVENTS,
        &path.key("max_queued_events"),
        "events",
        diag,
    );
    if !file.publisher && procedures.is_empty() && subscriptions.is_empty() && !file.caller {
        diag.warn(
            path,
            "the bridge does nothing: set \"publisher\": true, \"caller\": true, or add procedures or subscriptions",
        );
    }
    if diag.error_count() != errors {
        return None;
    }
    Some((
        router?,
        PostgresqlBridge {
            database: database?,
            publisher: file.publisher,
            procedures,
            registration_policy,
            call_timeout: Duration::from_millis(u64::try_from(call_timeout?).ok()?),
            subscriptions,
            max_queued_events: usize::try_from(max_queued_events?).ok()?,
            caller: file.caller,
        },
    ))
}

fn database(
    value: &Value,
    path: &Path,
    dir: &std::path::Path,
    env: Env<'_>,
    diag: &mut Diagnostics,
) -> Option<Database> {
    let file: DatabaseFile = read(value, path, diag)?;
    let errors = diag.error_count();
    let port = match file.port {
        None => Some(DEFAULT_PORT),
        Some(port) => u16::try_from(port).ok().filter(|&p| p != 0).or_else(|| {
            diag.error(&path.key("port"), format!("{port} is not a port (1-65535)"));
            None
        }),
    };
    let password = match (&file.password, &file.password_env, &file.password_file) {
        (None, None, None) => None,
        (Some(password), None, None) => Some(password.clone()),
        (None, Some(name), None) => from_env(name, &path.key("password_env"), env, diag),
        // The node that runs the bridge reads its own file.
        (None, None, Some(_)) if !diag.on_the_node() => None,
        (None, None, Some(file)) => {
            let at = dir.join(file);
            match std::fs::read_to_string(&at) {
                // A trailing newline is the editor's, not the password's.
                Ok(text) => Some(text.trim_end_matches(['\r', '\n']).to_owned()),
                Err(error) => {
                    diag.error(
                        &path.key("password_file"),
                        format!("cannot read {} ({error})", at.display()),
                    );
                    None
                }
            }
        }
        _ => {
            diag.error(path, "give one of password, password_env and password_file");
            None
        }
    };
    let sslmode = match file.sslmode.as_deref() {
        None | Some("prefer") => Some(SslMode::Prefer),
        Some("disable") => Some(SslMode::Disable),
        Some("allow") => Some(SslMode::Allow),
        Some("require") => Some(SslMode::Require),
        Some("verify-ca") => Some(SslMode::VerifyCa),
        Some("verify-full") => Some(SslMode::VerifyFull),
        Some(other) => {
            diag.error(
                &path.key("sslmode"),
                format!("\"{other}\" is not an sslmode (disable, allow, prefer, require, verify-ca, verify-full)"),
            );
            None
        }
    };
    let sslrootcert = file
        .sslrootcert
        .as_deref()
        .filter(|_| diag.on_the_node())
        .and_then(|file| root_certificates(file, &path.key("sslrootcert"), dir, diag));
    if matches!(sslmode, Some(SslMode::VerifyCa | SslMode::VerifyFull))
        && file.sslrootcert.is_none()
    {
        diag.error(
            &path.key("sslrootcert"),
            "verify-ca and verify-full check the server's certificate against a CA: name its PEM file (or \"system\" for the system's CAs)",
        );
    }
    let pool_size = bounded(
        file.pool_size,
        DEFAULT_POOL_SIZE as i64,
        1..=MAX_POOL_SIZE,
        &path.key("pool_size"),
        "connections",
        diag,
    );
    let connect_timeout = bounded(
        file.connect_timeout_ms,
        DEFAULT_CONNECT_TIMEOUT.as_millis() as i64,
        1..=MAX_TIMEOUT_MS,
        &path.key("connect_timeout_ms"),
        "milliseconds",
        diag,
    );
    for (key, text) in [("dbname", &file.dbname), ("user", &file.user)] {
        if text.is_empty() {
            diag.error(&path.key(key), format!("empty {key}"));
        }
    }
    if diag.error_count() != errors {
        return None;
    }
    Some(Database {
        host: file.host.unwrap_or_else(|| "127.0.0.1".to_owned()),
        port: port?,
        dbname: file.dbname,
        user: file.user,
        password,
        sslmode: sslmode?,
        sslrootcert,
        pool_size: usize::try_from(pool_size?).ok()?,
        connect_timeout: Duration::from_millis(u64::try_from(connect_timeout?).ok()?),
    })
}

/// The CAs of `database.sslrootcert`: a PEM file (relative to the node
/// directory `dir`), or `system` for the system's CAs, as libpq says it.
fn root_certificates(
    file: &str,
    path: &Path,
    dir: &std::path::Path,
    diag: &mut Diagnostics,
) -> Option<TlsRoots> {
    let roots = match file {
        "system" => TlsRoots::system(),
        file => TlsRoots::from_ca_files(&[dir.join(file)]),
    };
    roots.map_err(|e| diag.error(path, e.to_string())).ok()
}

fn procedure(value: &Value, path: &Path, diag: &mut Diagnostics) -> Option<ProcedureSource> {
    let file: ProcedureFile = read(value, path, diag)?;
    match file {
        ProcedureFile {
            procedure: Some(procedure),
            function: Some(function),
            prefix: None,
            schema: None,
        } => {
            uri(&procedure, MatchPolicy::Exact, &path.key("procedure"), diag)?;
            sql_name(&function, &path.key("function"), diag)?;
            Some(ProcedureSource::Function {
                procedure,
                function,
            })
        }
        ProcedureFile {
            prefix: Some(prefix),
            schema: Some(schema),
            procedure: None,
            function: None,
        } => {
            if !prefix.ends_with('.') {
                diag.error(
                    &path.key("prefix"),
                    format!("\"{prefix}\" must end with \".\" (functions are registered as <prefix><function name>)"),
                );
                return None;
            }
            uri(&prefix, MatchPolicy::Prefix, &path.key("prefix"), diag)?;
            sql_name(&schema, &path.key("schema"), diag)?;
            Some(ProcedureSource::Schema { prefix, schema })
        }
        _ => {
            diag.error(
                path,
                "give {\"procedure\", \"function\"} for one function, or {\"prefix\", \"schema\"} for every function of a schema",
            );
            None
        }
    }
}

fn subscription(value: &Value, path: &Path, diag: &mut Diagnostics) -> Option<SqlSubscription> {
    let file: SubscriptionFile = read(value, path, diag)?;
    let policy = match_policy(file.match_policy.as_deref(), &path.key("match"), diag)?;
    uri(&file.topic, policy, &path.key("topic"), diag)?;
    sql_name(&file.function, &path.key("function"), diag)?;
    Some(SqlSubscription {
        topic: file.topic,
        match_policy: policy.to_string(),
        function: file.function,
    })
}

/// Checks an SQL name: `name` or `schema.name`, each a plain identifier
/// (the bridge quotes them, so no SQL can ride in).
fn sql_name(text: &str, path: &Path, diag: &mut Diagnostics) -> Option<()> {
    let plain = |part: &str| {
        let mut chars = part.chars();
        chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
            && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
    };
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() <= 2 && parts.iter().all(|p| plain(p)) {
        Some(())
    } else {
        diag.error(
            path,
            format!("\"{text}\" is not an SQL name (name or schema.name, letters, digits and _)"),
        );
        None
    }
}

/// The value of the environment variable `name`, named at `path` when
/// unset. Where the config is checked off the node, whose environment is
/// not there, an empty stand-in: such a config is checked, never run, and
/// the checks that follow still see a value.
pub(super) fn from_env(
    name: &str,
    path: &Path,
    env: Env<'_>,
    diag: &mut Diagnostics,
) -> Option<String> {
    if !diag.on_the_node() {
        return Some(String::new());
    }
    env(name).or_else(|| {
        diag.error(
            path,
            format!("the environment variable {name} is not set: set it before starting the node"),
        );
        None
    })
}
