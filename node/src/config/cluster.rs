//! `ringbar.cluster`: the realms this node shares with other nodes through
//! NATS (`docs/CLUSTER.md`), checked against the router it runs beside.

use std::net::Ipv6Addr;
use std::path::{Path as FsPath, PathBuf};
use std::time::Duration;

use ringbar_engine::config::{
    ClusterConfig, DEFAULT_CLUSTER_FAILURE_TIMEOUT, DEFAULT_CLUSTER_HEARTBEAT, NatsAuth,
    NatsConfig, NatsTls,
};
use serde_json::Value;

use super::convert::{self, Env};
use super::diag::{Diagnostics, Path};
use super::read::read;

/// The most cores a cluster node runs: the cluster link takes the last
/// slot of the router's core mesh.
pub(crate) const MAX_CLUSTER_CORES: usize = ringbar_router::tables::subscriptions::MAX_CORES - 1;

/// The subject prefix when the file gives none.
pub(crate) const DEFAULT_SUBJECT_PREFIX: &str = "ringbar";

/// The core count in force, which a cluster node must keep under the
/// mesh's limit, and where it comes from, so that the error names what to
/// change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cores {
    /// How many core threads the node would run.
    pub(crate) count: usize,
    /// Who chose that count.
    pub(crate) from: CoresFrom,
}

/// Who chose the core count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CoresFrom {
    /// `ringbar.cores`.
    File,
    /// `--cores`.
    CommandLine,
    /// Neither: every CPU the process may use.
    Machine,
}

/// `ringbar.cluster` as written in the file.
#[derive(Debug, serde::Deserialize)]
#[serde(expecting = "a cluster object")]
struct ClusterFile {
    /// `node`: this node's name in the cluster.
    node: String,
    /// `realms`: the router's realms shared with the cluster.
    realms: Vec<String>,
    /// `nats`: the NATS servers and the credentials.
    nats: NatsFile,
    /// `subject_prefix`: `ringbar` when absent.
    #[serde(default)]
    subject_prefix: Option<String>,
    /// `heartbeat_ms`.
    #[serde(default)]
    heartbeat_ms: Option<i64>,
    /// `failure_timeout_ms`.
    #[serde(default)]
    failure_timeout_ms: Option<i64>,
}

/// `ringbar.cluster.nats` as written in the file.
#[derive(Debug, serde::Deserialize)]
#[serde(expecting = "a NATS object")]
struct NatsFile {
    /// `servers`: `nats://` or `tls://` URLs.
    servers: Vec<String>,
    /// `token`: a secret or `"$VAR"`.
    #[serde(default)]
    token: Option<String>,
    /// `user`, with `password`.
    #[serde(default)]
    user: Option<String>,
    /// `password`: a secret or `"$VAR"`.
    #[serde(default)]
    password: Option<String>,
    /// `nkey_seed`: a secret or `"$VAR"`.
    #[serde(default)]
    nkey_seed: Option<String>,
    /// `credentials`: a `.creds` file, relative to the node directory.
    #[serde(default)]
    credentials: Option<String>,
    /// `tls`.
    #[serde(default)]
    tls: Option<NatsTlsFile>,
}

/// `ringbar.cluster.nats.tls` as written in the file.
#[derive(Debug, serde::Deserialize)]
#[serde(expecting = "a TLS object")]
struct NatsTlsFile {
    /// `ca_certificates`, relative to the node directory.
    #[serde(default)]
    ca_certificates: Vec<String>,
    /// `certificate`, relative to the node directory.
    #[serde(default)]
    certificate: Option<String>,
    /// `key`, relative to the node directory.
    #[serde(default)]
    key: Option<String>,
}

/// Reads `ringbar.cluster` (`value`) of a node directory `dir` whose
/// router has the realms `router_realms` (as written, in file order) and
/// runs `cores`; `None` with the errors in `diag` when it is not valid.
pub(crate) fn convert(
    value: &Value,
    router_realms: &[String],
    cores: Cores,
    dir: &FsPath,
    env: Env<'_>,
    diag: &mut Diagnostics,
) -> Option<ClusterConfig> {
    let path = Path::root().key("ringbar").key("cluster");
    check_cores(cores, diag);
    let file: ClusterFile = read(value, &path, diag)?;
    let errors = diag.error_count();
    if !is_node_name(&file.node) {
        diag.error(
            &path.key("node"),
            format!(
                "\"{}\" is not a node name: give this node a name unique in the cluster, 1 to 64 of A-Z, a-z, 0-9, _, -",
                file.node
            ),
        );
    }
    check_realms(&file.realms, router_realms, &path.key("realms"), diag);
    let nats = nats(file.nats, &path.key("nats"), dir, env, diag);
    let subject_prefix = file
        .subject_prefix
        .unwrap_or_else(|| DEFAULT_SUBJECT_PREFIX.to_owned());
    if !is_subject_prefix(&subject_prefix) {
        diag.error(
            &path.key("subject_prefix"),
            format!(
                "\"{subject_prefix}\" is not a subject prefix: give one or more NATS tokens of A-Z, a-z, 0-9, _, - separated by dots, e.g. \"{DEFAULT_SUBJECT_PREFIX}\""
            ),
        );
    }
    let (heartbeat, failure_timeout) =
        timing(file.heartbeat_ms, file.failure_timeout_ms, &path, diag)?;
    let nats = nats?;
    (diag.error_count() == errors).then_some(ClusterConfig {
        node: file.node,
        realms: file.realms,
        nats,
        subject_prefix,
        heartbeat,
        failure_timeout,
    })
}

/// Refuses a core count the cluster link leaves no mesh slot for.
fn check_cores(cores: Cores, diag: &mut Diagnostics) {
    if cores.count <= MAX_CLUSTER_CORES {
        return;
    }
    let why = format!(
        "a cluster node runs at most {MAX_CLUSTER_CORES} (the cluster link takes the last slot of the core mesh)"
    );
    let message = match cores.from {
        CoresFrom::File => format!(
            "{} cores are too many with ringbar.cluster: {why}; set ringbar.cores to {MAX_CLUSTER_CORES} or fewer",
            cores.count
        ),
        CoresFrom::CommandLine => format!(
            "--cores {} is too many with ringbar.cluster: {why}; give --cores {MAX_CLUSTER_CORES} or fewer",
            cores.count
        ),
        // Another machine's core count says nothing of the node's.
        CoresFrom::Machine if !diag.on_the_node() => return,
        CoresFrom::Machine => format!(
            "this machine has {} cores, too many with ringbar.cluster: {why}; set ringbar.cores to {MAX_CLUSTER_CORES} or fewer",
            cores.count
        ),
    };
    diag.error(&Path::root().key("ringbar").key("cores"), message);
}

/// Checks that `realms` (at `path`) names realms of the router, each once.
fn check_realms(realms: &[String], router_realms: &[String], path: &Path, diag: &mut Diagnostics) {
    if realms.is_empty() {
        diag.error(
            path,
            "no realms: list the realms this node shares with the cluster, e.g. [\"realm1\"]",
        );
    }
    for (at, realm) in realms.iter().enumerate() {
        if let Some(first) = realms[..at].iter().position(|r| r == realm) {
            diag.error(
                &path.index(at),
                format!(
                    "\"{realm}\" is listed twice (also at realms[{first}]): list each realm once"
                ),
            );
        } else if !router_realms.contains(realm) {
            let known = if router_realms.is_empty() {
                "the router has no realms".to_owned()
            } else {
                format!("its realms are: {}", router_realms.join(", "))
            };
            diag.error(
                &path.index(at),
                format!("\"{realm}\" is not a realm of the router ({known})"),
            );
        }
    }
}

/// Reads `nats` (at `path`): every error is recorded before `None`.
fn nats(
    file: NatsFile,
    path: &Path,
    dir: &FsPath,
    env: Env<'_>,
    diag: &mut Diagnostics,
) -> Option<NatsConfig> {
    let errors = diag.error_count();
    if file.servers.is_empty() {
        diag.error(
            &path.key("servers"),
            "no servers: give at least one NATS server URL, e.g. \"nats://127.0.0.1:4222\"",
        );
    }
    for (at, server) in file.servers.iter().enumerate() {
        if !is_server_url(server) {
            diag.error(
                &path.key("servers").index(at),
                format!(
                    "\"{server}\" is not a NATS server URL (nats://HOST:PORT or tls://HOST:PORT)"
                ),
            );
        }
    }
    let auth = auth(&file, path, dir, env, diag);
    let tls = file
        .tls
        .and_then(|tls| nats_tls(tls, &path.key("tls"), dir, diag));
    let auth = auth?;
    (diag.error_count() == errors).then_some(NatsConfig {
        servers: file.servers,
        auth,
        tls,
    })
}

/// The one way of logging in to NATS that `file` gives, if any.
fn auth(
    file: &NatsFile,
    path: &Path,
    dir: &FsPath,
    env: Env<'_>,
    diag: &mut Diagnostics,
) -> Option<NatsAuth> {
    let user_password = match (&file.user, &file.password) {
        (Some(_), Some(_)) => Some("user and password"),
        (Some(_), None) => Some("user"),
        (None, Some(_)) => Some("password"),
        (None, None) => None,
    };
    let given: Vec<&str> = [
        file.token.as_ref().map(|_| "token"),
        user_password,
        file.nkey_seed.as_ref().map(|_| "nkey_seed"),
        file.credentials.as_ref().map(|_| "credentials"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if given.len() > 1 {
        diag.error(
            path,
            format!(
                "give one of token, user and password, nkey_seed, credentials (not {})",
                and_list(&given)
            ),
        );
        return None;
    }
    if let Some(token) = &file.token {
        return secret(token, &path.key("token"), env, diag).map(NatsAuth::Token);
    }
    match (&file.user, &file.password) {
        (Some(user), Some(password)) => {
            return secret(password, &path.key("password"), env, diag).map(|password| {
                NatsAuth::UserPassword {
                    user: user.clone(),
                    password,
                }
            });
        }
        (Some(_), None) => {
            diag.error(
                &path.key("user"),
                "a user needs its password: give \"password\" too",
            );
            return None;
        }
        (None, Some(_)) => {
            diag.error(
                &path.key("password"),
                "a password needs its user: give \"user\" too",
            );
            return None;
        }
        (None, None) => {}
    }
    if let Some(seed) = &file.nkey_seed {
        let seed_path = path.key("nkey_seed");
        let seed = secret(seed, &seed_path, env, diag)?;
        // The value is a secret: the message does not show it.
        if diag.on_the_node() && !seed.starts_with("SU") {
            diag.error(
                &seed_path,
                "not an NKey user seed (one starts with \"SU\"): give the seed of the user's NKey, not its public key",
            );
            return None;
        }
        return Some(NatsAuth::Nkey(seed));
    }
    if let Some(credentials) = &file.credentials {
        let resolved = dir.join(credentials);
        if diag.on_the_node() && !resolved.is_file() {
            diag.error(
                &path.key("credentials"),
                format!(
                    "{} is not a file: give this node's NATS credentials (.creds) file, relative to the node directory",
                    resolved.display()
                ),
            );
            return None;
        }
        return Some(NatsAuth::CredentialsFile(resolved));
    }
    Some(NatsAuth::None)
}

/// Reads `tls` (at `path`); its files must exist on the node.
fn nats_tls(
    file: NatsTlsFile,
    path: &Path,
    dir: &FsPath,
    diag: &mut Diagnostics,
) -> Option<NatsTls> {
    let errors = diag.error_count();
    let ca_certificates: Vec<PathBuf> = file
        .ca_certificates
        .iter()
        .enumerate()
        .map(|(at, name)| {
            existing_file(
                name,
                &path.key("ca_certificates").index(at),
                "the PEM file of a CA the NATS servers' certificates chain to",
                dir,
                diag,
            )
        })
        .collect();
    let client = match (file.certificate, file.key) {
        (Some(certificate), Some(key)) => Some((
            existing_file(
                &certificate,
                &path.key("certificate"),
                "this node's client certificate (PEM)",
                dir,
                diag,
            ),
            existing_file(
                &key,
                &path.key("key"),
                "the private key of this node's client certificate (PEM)",
                dir,
                diag,
            ),
        )),
        (None, None) => None,
        (Some(_), None) => {
            diag.error(
                &path.key("certificate"),
                "a certificate without its key: give \"certificate\" and \"key\" together, or neither",
            );
            None
        }
        (None, Some(_)) => {
            diag.error(
                &path.key("key"),
                "a key without its certificate: give \"certificate\" and \"key\" together, or neither",
            );
            None
        }
    };
    (diag.error_count() == errors).then_some(NatsTls {
        ca_certificates,
        client,
    })
}

/// The heartbeat and failure timeout, defaults filled in and checked.
fn timing(
    heartbeat_ms: Option<i64>,
    failure_timeout_ms: Option<i64>,
    path: &Path,
    diag: &mut Diagnostics,
) -> Option<(Duration, Duration)> {
    const HEARTBEAT_MS: std::ops::RangeInclusive<u64> = 100..=60_000;
    const MAX_FAILURE_TIMEOUT_MS: u64 = 600_000;
    let heartbeat = match heartbeat_ms {
        None => Some(DEFAULT_CLUSTER_HEARTBEAT),
        Some(ms) => match u64::try_from(ms) {
            Ok(ms) if HEARTBEAT_MS.contains(&ms) => Some(Duration::from_millis(ms)),
            _ => {
                diag.error(
                    &path.key("heartbeat_ms"),
                    format!(
                        "{ms} is not a heartbeat interval ({}-{} ms)",
                        HEARTBEAT_MS.start(),
                        HEARTBEAT_MS.end()
                    ),
                );
                None
            }
        },
    };
    let failure_path = path.key("failure_timeout_ms");
    let failure_timeout = match failure_timeout_ms {
        None => DEFAULT_CLUSTER_FAILURE_TIMEOUT,
        Some(ms) => match u64::try_from(ms) {
            Ok(ms @ ..=MAX_FAILURE_TIMEOUT_MS) => Duration::from_millis(ms),
            _ => {
                diag.error(
                    &failure_path,
                    format!(
                        "{ms} is not a failure timeout (more than twice heartbeat_ms, at most {MAX_FAILURE_TIMEOUT_MS} ms)"
                    ),
                );
                return None;
            }
        },
    };
    let heartbeat = heartbeat?;
    // A node is taken for gone only after it missed two heartbeats, so that
    // one late heartbeat does not remove its subscriptions everywhere.
    if failure_timeout <= heartbeat * 2 {
        let given = match failure_timeout_ms {
            Some(ms) => format!("{ms} ms"),
            None => format!("the default {} ms", failure_timeout.as_millis()),
        };
        diag.error(
            &failure_path,
            format!(
                "{given} is too short for heartbeat_ms {}: a node is taken for gone only after it missed two heartbeats; give more than {} ms",
                heartbeat.as_millis(),
                (heartbeat * 2).as_millis()
            ),
        );
        return None;
    }
    Some((heartbeat, failure_timeout))
}

/// A secret, or the environment variable a `"$VAR"` secret names, read as
/// a ticket's is. Off the node, whose environment is not there, the text
/// stands as written: such a config is checked, never run.
fn secret(text: &str, path: &Path, env: Env<'_>, diag: &mut Diagnostics) -> Option<String> {
    if diag.on_the_node() {
        convert::secret(text, path, env, diag)
    } else {
        Some(text.to_owned())
    }
}

/// `name` resolved against the node directory; on the node it must be a
/// file, `what` says which.
fn existing_file(
    name: &str,
    path: &Path,
    what: &str,
    dir: &FsPath,
    diag: &mut Diagnostics,
) -> PathBuf {
    let resolved = dir.join(name);
    if diag.on_the_node() && !resolved.is_file() {
        diag.error(
            path,
            format!(
                "{} is not a file: give {what}, relative to the node directory",
                resolved.display()
            ),
        );
    }
    resolved
}

/// A node name: a NATS subject token of 1 to 64 letters, digits, `_`, `-`.
fn is_node_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(is_token_byte)
}

/// One or more NATS subject tokens separated by dots.
fn is_subject_prefix(prefix: &str) -> bool {
    prefix
        .split('.')
        .all(|token| !token.is_empty() && token.bytes().all(is_token_byte))
}

/// A byte of a subject token the cluster writes: no wildcard, no dot, no
/// space, nothing that needs quoting.
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-'
}

/// `nats://HOST:PORT` or `tls://HOST:PORT`: a host name, an IPv4 address
/// or a bracketed IPv6 address, and a port 1-65535; nothing else.
fn is_server_url(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("nats://")
        .or_else(|| url.strip_prefix("tls://"))
    else {
        return false;
    };
    let (host_ok, port) = match rest.strip_prefix('[') {
        Some(rest) => match rest.split_once("]:") {
            Some((host, port)) => (host.parse::<Ipv6Addr>().is_ok(), port),
            None => return false,
        },
        None => match rest.rsplit_once(':') {
            Some((host, port)) => (
                !host.is_empty()
                    && host
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_'),
                port,
            ),
            None => return false,
        },
    };
    // `u16::from_str` takes a leading `+`: digits only.
    host_ok
        && !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u16>().is_ok_and(|port| port != 0)
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests;
