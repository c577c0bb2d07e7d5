//! From the Crossbar.io file ([`super::file`]) to the engine's
//! [`RouterConfig`], checking every value and collecting every error.
//!
//! Each part converts what it can and records what is wrong at its path;
//! a part that fails yields `None` and its parent goes on with the rest, so
//! one run reports every error in the file.

mod auth;
mod endpoint;
mod realm;
mod rest;
mod store;
mod transport;
mod universal;
mod web;
mod websocket;
mod worker;

use std::collections::HashMap;
use std::path::Path as FsPath;

use ringbar_engine::config::{Endpoint, RealmConfig, RouterConfig, TransportConfig};
use serde_json::Value;

use super::cluster::{self, Cores, CoresFrom};
use super::diag::{Diagnostics, Path};
use super::file::{ControllerFile, NodeFile, RouterWorkerFile, TesteeWorkerFile};
use super::read::{Accept, read, read_with, show, type_tag};
use super::settings::{self, Overrides};

/// The config version ringbar reads (Crossbar.io's current one).
const CONFIG_VERSION: i64 = 2;

/// Controller keys of Crossbar.io's edge and master personalities.
const CROSSBAR_FX_CONTROLLER_KEYS: &[&str] = &[
    "fabric",
    "fabric-center",
    "blockchain",
    "enable_docker",
    "ipfs",
];

/// Worker types ringbar runs.
const WORKER_TYPES: &str =
    "router, container, websocket-testee, guest, postgresql-bridge, srdp-bridge";

pub(crate) use worker::disabled;

/// Looks up an environment variable (injected, so tests need not touch the
/// process environment).
pub(crate) type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Converts the parsed file `root` of the node directory `dir`. `None` when
/// `diag` has errors.
pub(crate) fn convert(
    root: &Value,
    dir: &FsPath,
    env: Env<'_>,
    overrides: Overrides,
    diag: &mut Diagnostics,
) -> Option<RouterConfig> {
    let mut converter = Converter::new(dir, env, diag);
    let config = converter.node(root, overrides);
    if converter.diag.has_errors() {
        None
    } else {
        config
    }
}

/// Reads a listening endpoint at `path` as a transport's is read, for the
/// node's own listeners outside the router worker (`ringbar.metrics`).
pub(crate) fn endpoint(
    value: &Value,
    path: &Path,
    dir: &FsPath,
    env: Env<'_>,
    diag: &mut Diagnostics,
) -> Option<Endpoint> {
    Converter::new(dir, env, diag).endpoint(value, path)
}

/// Reads a port (a number, or `"$VAR"`) at `path` as a transport's is read,
/// for the connecting endpoints of bridge components.
pub(crate) fn port(
    value: &Value,
    path: &Path,
    env: Env<'_>,
    diag: &mut Diagnostics,
) -> Option<u16> {
    Converter::new(FsPath::new(""), env, diag).port(value, path)
}

/// Reads a secret (or the `"$VAR"` naming one) at `path` as a ticket's
/// is read, for the NATS credentials of `ringbar.cluster`.
pub(crate) fn secret(
    text: &str,
    path: &Path,
    env: Env<'_>,
    diag: &mut Diagnostics,
) -> Option<String> {
    Converter::new(FsPath::new(""), env, diag)
        .secret(text, path)
        .map(|secret| secret.0)
}

/// The state of one conversion.
struct Converter<'a> {
    /// The node directory, which relative paths start from.
    dir: &'a FsPath,
    /// The environment, for `"$VAR"` ports.
    env: Env<'a>,
    /// Where errors and warnings go.
    diag: &'a mut Diagnostics,
    /// The roles transports give sessions (anonymous ones, and every
    /// static principal), with the path that says so, checked against the
    /// realms at the end.
    anonymous_roles: Vec<(Path, String)>,
    /// The realm and role of each REST bridge service, with its path,
    /// checked against the realms at the end.
    rest_sessions: Vec<(Path, String, String)>,
    /// The realm names of the running router as written, in file order
    /// (with those that have errors of their own), which
    /// `ringbar.cluster` must name.
    router_realms: Vec<String>,
}

impl<'a> Converter<'a> {
    fn new(dir: &'a FsPath, env: Env<'a>, diag: &'a mut Diagnostics) -> Self {
        Converter {
            dir,
            env,
            diag,
            anonymous_roles: Vec::new(),
            rest_sessions: Vec::new(),
            router_realms: Vec::new(),
        }
    }
}

impl Converter<'_> {
    fn node(&mut self, root: &Value, overrides: Overrides) -> Option<RouterConfig> {
        if !root.is_object() {
            self.diag.error(
                &Path::root(),
                format!(
                    "{} is not a node config: the file must hold one object with \"version\": 2 and \"workers\"",
                    show(root)
                ),
            );
            return None;
        }
        let file: NodeFile =
            read_with(root, &Path::root(), self.diag, Accept::silent(&["$schema"]))?;
        self.version(file.version.as_ref());
        if let Some(controller) = &file.controller {
            let accept = Accept {
                silent: &["id", "options", "manhole", "connections", "keyring"],
                ignored: CROSSBAR_FX_CONTROLLER_KEYS,
                ignored_message: "a Crossbar.io FX controller option (Fabric, blockchain, Docker), not used by ringbar; ignored",
            };
            let _: Option<ControllerFile> = read_with(
                controller,
                &Path::root().key("controller"),
                self.diag,
                accept,
            );
        }
        let settings = settings::convert(file.ringbar.as_ref(), overrides, self.diag);
        let (realms, transports) = self.workers(file.workers.as_ref());
        self.check_anonymous_roles(&realms);
        self.check_rest_sessions(&realms);
        self.check_authenticator_realms(&realms, &transports);
        let cluster = self.cluster(file.ringbar.as_ref(), settings.cores, overrides);
        Some(RouterConfig {
            cores: settings.cores,
            io: settings.io,
            realms,
            transports,
            flow: settings.flow,
            limits: settings.limits,
            shutdown_timeout_ms: settings.shutdown_timeout_ms,
            cluster,
        })
    }

    /// `ringbar.cluster`, checked against the router's realms and the
    /// core count in force (`cores`, chosen by `overrides` or the file).
    fn cluster(
        &mut self,
        ringbar: Option<&Value>,
        cores: usize,
        overrides: Overrides,
    ) -> Option<ringbar_engine::config::ClusterConfig> {
        let ringbar = ringbar?;
        let value = ringbar.get("cluster")?;
        let from = if overrides.cores.is_some() {
            CoresFrom::CommandLine
        } else if ringbar.get("cores").and_then(Value::as_u64) == u64::try_from(cores).ok() {
            CoresFrom::File
        } else {
            CoresFrom::Machine
        };
        let cores = Cores { count: cores, from };
        cluster::convert(
            value,
            &self.router_realms,
            cores,
            self.dir,
            self.env,
            self.diag,
        )
    }

    fn version(&mut self, version: Option<&Value>) {
        let path = Path::root().key("version");
        match version.and_then(Value::as_i64) {
            Some(CONFIG_VERSION) => {}
            Some(old) if (1..CONFIG_VERSION).contains(&old) => self.diag.error(
                &path,
                format!("{old} is too old: ringbar reads version 2 (`crossbar upgrade` converts the file)"),
            ),
            _ => match version {
                None => self.diag.error(
                    &Path::root(),
                    "missing \"version\": add \"version\": 2 (Crossbar.io's config version)",
                ),
                Some(other) => self.diag.error(
                    &path,
                    format!("{} is not supported: ringbar reads version 2", show(other)),
                ),
            },
        }
    }

    fn workers(&mut self, workers: Option<&Value>) -> (Vec<RealmConfig>, Vec<TransportConfig>) {
        let path = Path::root().key("workers");
        let list: Vec<Value> = match workers {
            Some(value) => read(value, &path, self.diag).unwrap_or_default(),
            None => Vec::new(),
        };
        let mut realms = Vec::new();
        let mut transports = Vec::new();
        let mut first_router: Option<usize> = None;
        let mut testees = 0;
        let mut guests = 0;
        let mut containers = 0;
        let mut disabled = 0;
        for (index, worker) in list.iter().enumerate() {
            let worker_path = path.index(index);
            let Some(kind) = type_tag(worker, &worker_path, "worker", WORKER_TYPES, self.diag)
            else {
                continue;
            };
            match kind {
                "router" if self.disabled(worker, &worker_path) => {
                    disabled += 1;
                    // Checked like any router, but nothing it has is kept,
                    // nor its roles checked against the running realms.
                    let roles = self.anonymous_roles.len();
                    self.router(worker, &worker_path, &mut Vec::new(), &mut Vec::new());
                    self.anonymous_roles.truncate(roles);
                }
                "router" => match first_router {
                    Some(first) => self.diag.error(
                        &worker_path.key("type"),
                        format!(
                            "a second router worker is not supported yet: move its realms and transports into workers[{first}]"
                        ),
                    ),
                    None => {
                        first_router = Some(index);
                        self.router_realms =
                            self.router(worker, &worker_path, &mut realms, &mut transports);
                    }
                },
                "websocket-testee" => {
                    let enabled = !self.disabled(worker, &worker_path);
                    if enabled {
                        testees += 1;
                    } else {
                        disabled += 1;
                    }
                    let accept = Accept::silent(&["type", "id", "options"]);
                    if let Some(file) =
                        read_with::<TesteeWorkerFile>(worker, &worker_path, self.diag, accept)
                    {
                        let transport_path = worker_path.key("transport");
                        if let Some(transport) =
                            self.testee_worker_transport(&file.transport, &transport_path)
                            && enabled
                        {
                            transports.push((transport_path, transport));
                        }
                    }
                }
                // Read by `config::guest`, in a pass of its own.
                "guest" => guests += 1,
                // Read by `config::bridge`, in a pass of its own.
                "container" | "postgresql-bridge" | "srdp-bridge" => containers += 1,
                "proxy" | "hostmonitor" | "xbrmm" | "marketplace" => {
                    self.diag.error(
                        &worker_path.key("type"),
                        format!("\"{kind}\" workers are not supported yet ({WORKER_TYPES})"),
                    )
                }
                other => self.diag.error(
                    &worker_path.key("type"),
                    format!("\"{other}\" is not a worker type ({WORKER_TYPES})"),
                ),
            }
        }
        let workers = testees + guests + containers + disabled;
        if first_router.is_none() && workers == 0 && !self.diag.has_errors() {
            self.diag.error(
                &path,
                "no router worker: add {\"type\": \"router\", \"realms\": [...], \"transports\": [...]} (`ringbar init` writes an example)",
            );
        }
        let transports = self.name_transports(transports);
        (realms, transports)
    }

    /// Converts a router worker into `realms` and `transports`; the names
    /// of its realms as written, in file order.
    fn router(
        &mut self,
        worker: &Value,
        path: &Path,
        realms: &mut Vec<RealmConfig>,
        transports: &mut Vec<(Path, Listening)>,
    ) -> Vec<String> {
        // `components` are read by `config::bridge`, in a pass of its own.
        let accept = Accept::silent(&["type", "id", "options", "manhole", "components"]);
        let Some(file) = read_with::<RouterWorkerFile>(worker, path, self.diag, accept) else {
            return Vec::new();
        };
        if !file.connections.is_empty() {
            self.diag.error(
                &path.key("connections"),
                "router connections are not supported yet",
            );
        }
        let mut names: HashMap<String, usize> = HashMap::new();
        let mut listed = Vec::new();
        for (index, value) in file.realms.iter().enumerate() {
            let realm_path = path.key("realms").index(index);
            // Names are compared before conversion, so that a realm with
            // errors of its own still counts.
            if let Some(name) = value.get("name").and_then(Value::as_str) {
                if let Some(first) = names.get(name) {
                    self.diag.error(
                        &realm_path.key("name"),
                        format!(
                            "realm \"{name}\" is defined twice (also at realms[{first}]): give each realm its own name"
                        ),
                    );
                    continue;
                }
                names.insert(name.to_owned(), index);
                listed.push(name.to_owned());
            }
            if let Some(realm) = self.realm(value, &realm_path) {
                realms.push(realm);
            }
        }
        if file.realms.is_empty() {
            self.diag.warn(
                &path.key("realms"),
                "no realms: no session can join this router",
            );
        }
        if file.transports.is_empty() {
            self.diag.warn(
                &path.key("transports"),
                "no transports: nothing listens for clients",
            );
        }
        for (index, value) in file.transports.iter().enumerate() {
            let transport_path = path.key("transports").index(index);
            if let Some(transport) = self.transport(value, &transport_path) {
                transports.push((transport_path, transport));
            }
        }
        listed
    }

    /// Gives every transport its id (`transport<N>` when the file has
    /// none) and checks that ids are unique.
    fn name_transports(&mut self, pending: Vec<(Path, Listening)>) -> Vec<TransportConfig> {
        let mut seen: HashMap<String, Path> = HashMap::new();
        let mut transports = Vec::with_capacity(pending.len());
        for (number, (path, listening)) in pending.into_iter().enumerate() {
            let Listening {
                transport,
                max_connections,
            } = listening;
            let id = transport.id.unwrap_or_else(|| format!("transport{number}"));
            if let Some(first) = seen.get(&id) {
                self.diag.error(
                    &path.key("id"),
                    format!("transport id \"{id}\" is used twice (also at {first}): give each transport its own id"),
                );
                continue;
            }
            seen.insert(id.clone(), path);
            transports.push(TransportConfig {
                id,
                endpoint: transport.endpoint,
                kind: transport.kind,
                max_connections,
            });
        }
        transports
    }

    /// Warns about roles that no realm defines: sessions given them would
    /// be refused.
    fn check_anonymous_roles(&mut self, realms: &[RealmConfig]) {
        let roles = std::mem::take(&mut self.anonymous_roles);
        for (path, role) in roles {
            let defined = realms
                .iter()
                .any(|realm| realm.roles.iter().any(|r| r.name == role));
            if !defined && !realms.is_empty() {
                self.diag.warn(
                    &path,
                    format!(
                        "role \"{role}\" is not defined in any realm: sessions given it will be refused"
                    ),
                );
            }
        }
    }

    /// Refuses dynamic authenticators on realms the router does not have.
    fn check_authenticator_realms(
        &mut self,
        realms: &[RealmConfig],
        transports: &[ringbar_engine::config::TransportConfig],
    ) {
        for transport in transports {
            for (method, realm) in auth::authenticator_realms(&transport.kind) {
                if !realms.iter().any(|r| r.name == realm) {
                    self.diag.error(
                        &Path::root().key("workers"),
                        format!(
                            "transport {}: auth.{method}.authenticator-realm: realm \"{realm}\" is not defined: the dynamic authenticator is called there; add the realm or name another",
                            transport.id
                        ),
                    );
                }
            }
        }
    }

    /// Checks an item `id` by Crossbar.io's rule.
    fn check_id(&mut self, id: Option<String>, path: &Path) -> Option<String> {
        let id = id?;
        let mut chars = id.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        let len = id.chars().count();
        if first_ok && rest_ok && (3..=64).contains(&len) {
            Some(id)
        } else {
            self.diag.error(
                &path.key("id"),
                format!(
                    "\"{id}\" is not a valid id (a lowercase letter, then 2 to 63 of a-z, 0-9, _)"
                ),
            );
            None
        }
    }
}

/// A converted transport whose id is not settled yet.
struct PendingTransport {
    id: Option<String>,
    endpoint: ringbar_engine::config::Endpoint,
    kind: ringbar_engine::config::TransportKind,
}

/// A converted listening transport: what it is and how many connections it
/// holds at most.
struct Listening {
    transport: PendingTransport,
    max_connections: usize,
}

#[cfg(test)]
mod tests;
