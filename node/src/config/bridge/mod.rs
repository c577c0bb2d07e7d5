//! Bridge workers: Crossbar.io's `container` workers, and the `components`
//! of a router worker, whose components are the REST bridge classes
//! (`RESTCallee`, `MessageForwarder`). Each becomes a
//! [`BridgeWorker`] that the node runs on a thread of its own.
//!
//! Read in a pass of their own over `workers`, after the router's
//! conversion: a component that connects to this node's own router joins
//! over the worker socket ([`socket`]), which this pass adds to the
//! router's transports.

mod component;
mod file;
mod postgresql;
mod router;
mod socket;
mod srdp;
mod transport;

use std::path::Path as FsPath;

use ringbar_bridges::config::{BridgeWorker, Component, ComponentKind};
use ringbar_client::{Credentials, Url};
use ringbar_engine::config::{REALM_TEMPLATE, RouterConfig};
use serde_json::Value;

use super::convert::{self, Env};
use super::diag::{Diagnostics, Path};
use super::guest::check_id;
use super::read::{Accept, read_with};
use super::workers::{Numbered, numbered};
use file::{ContainerComponentFile, ContainerWorkerFile, RouterComponentFile};
use socket::WorkerSocket;
use transport::Target;

pub(crate) use socket::SOCKET_FILE;

/// The role of a router component without `role` (Crossbar.io's default).
const DEFAULT_ROUTER_COMPONENT_ROLE: &str = "anonymous";

/// Reads every bridge worker of the config `root` of the node directory
/// `dir`; adds the worker socket to `router` when a component joins over
/// it. Errors and warnings go to `diag` with their paths.
pub(crate) fn from_root(
    root: &Value,
    dir: &FsPath,
    env: Env<'_>,
    router: Option<&mut RouterConfig>,
    diag: &mut Diagnostics,
) -> Vec<BridgeWorker> {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut reader = Reader {
        dir: &dir,
        env,
        router: router.as_deref(),
        socket: WorkerSocket::default(),
    };
    let mut bridges = Vec::new();
    for Numbered {
        path,
        worker,
        default_id,
    } in numbered(root)
    {
        let bridge = match worker.get("type").and_then(Value::as_str) {
            Some("container") => reader.container(worker, &path, default_id, diag),
            Some("router") => reader.router_components(worker, &path, default_id, diag),
            Some(srdp::TYPE) => reader.srdp(worker, &path, default_id, diag),
            Some("postgresql-bridge") => reader.postgresql(worker, &path, default_id, diag),
            _ => None,
        };
        bridges.extend(bridge);
    }
    let Reader { socket, .. } = reader;
    if let Some(router) = router
        && let Some(transport) = socket.transport(&dir)
    {
        router.transports.push(transport);
    }
    bridges
}

/// The state of the pass.
struct Reader<'a> {
    dir: &'a FsPath,
    env: Env<'a>,
    router: Option<&'a RouterConfig>,
    socket: WorkerSocket,
}

impl Reader<'_> {
    /// A `container` worker.
    fn container(
        &mut self,
        worker: &Value,
        path: &Path,
        default_id: Option<String>,
        diag: &mut Diagnostics,
    ) -> Option<BridgeWorker> {
        let disabled = convert::disabled(worker, path, true, self.env, diag);
        // `options` are read by `convert::disabled`.
        let accept = Accept::silent(&["type", "options"]);
        let file: ContainerWorkerFile = read_with(worker, path, diag, accept)?;
        let id = match file.id {
            Some(id) => check_id(id, &path.key("id"), diag)?,
            None => default_id?,
        };
        if file.components.is_empty() {
            diag.warn(
                &path.key("components"),
                "no components: the worker does nothing",
            );
        }
        let mut components = Vec::new();
        for (index, value) in file.components.iter().enumerate() {
            let component_path = path.key("components").index(index);
            components.extend(self.container_component(value, &component_path, &id, index, diag));
        }
        (!disabled && components.len() == file.components.len() && !components.is_empty())
            .then_some(BridgeWorker { id, components })
    }

    fn container_component(
        &mut self,
        value: &Value,
        path: &Path,
        worker: &str,
        index: usize,
        diag: &mut Diagnostics,
    ) -> Option<Component> {
        class_type(value, path, diag)?;
        let file: ContainerComponentFile =
            read_with(value, path, diag, Accept::silent(&["type", "id"]))?;
        let kind = component::kind(&file.classname, file.extra.as_ref(), path, diag);
        let target = transport::target(
            &file.transport,
            &path.key("transport"),
            self.dir,
            self.env,
            self.router,
            diag,
        )?;
        let (name, kind) = kind?;
        let (router, credentials) = match target {
            Target::Own { role } => {
                let authid = format!("ringbar-bridge:{worker}:{index}");
                self.own(authid, role, &file.realm, path, diag)?
            }
            Target::Remote(url) => (url, Credentials::Anonymous),
        };
        Some(Component {
            name,
            realm: file.realm,
            router,
            credentials,
            kind,
        })
    }

    /// The `components` of a router worker: one bridge worker named as the
    /// router worker, joined over the worker socket.
    fn router_components(
        &mut self,
        worker: &Value,
        path: &Path,
        default_id: Option<String>,
        diag: &mut Diagnostics,
    ) -> Option<BridgeWorker> {
        let values = worker.get("components").and_then(Value::as_array)?;
        // The router's own conversion reports on its options.
        let mut quiet = Diagnostics::new("");
        let disabled = convert::disabled(worker, path, false, self.env, &mut quiet);
        let id = match worker.get("id").and_then(Value::as_str) {
            Some(id) => id.to_owned(),
            None => default_id?,
        };
        let mut components = Vec::new();
        for (index, value) in values.iter().enumerate() {
            let path = path.key("components").index(index);
            let Some(()) = class_type(value, &path, diag) else {
                continue;
            };
            let Some(file) = read_with::<RouterComponentFile>(
                value,
                &path,
                diag,
                Accept::silent(&["type", "id", "references"]),
            ) else {
                continue;
            };
            let kind = component::kind(&file.classname, file.extra.as_ref(), &path, diag);
            let role = file
                .role
                .unwrap_or_else(|| DEFAULT_ROUTER_COMPONENT_ROLE.to_owned());
            let authid = format!("ringbar-bridge:{id}:{index}");
            let own = self.own(authid, role, &file.realm, &path, diag);
            if let (Some((name, kind)), Some((router, credentials))) = (kind, own) {
                components.push(Component {
                    name,
                    realm: file.realm,
                    router,
                    credentials,
                    kind,
                });
            }
        }
        (!disabled && components.len() == values.len() && !components.is_empty())
            .then_some(BridgeWorker { id, components })
    }

    /// A `postgresql-bridge` worker: one component, joined to this node's
    /// router over the worker socket, or to a remote router by `url`.
    fn postgresql(
        &mut self,
        worker: &Value,
        path: &Path,
        default_id: Option<String>,
        diag: &mut Diagnostics,
    ) -> Option<BridgeWorker> {
        let disabled = convert::disabled(worker, path, true, self.env, diag);
        let id = match worker.get("id") {
            Some(Value::String(id)) => check_id(id.clone(), &path.key("id"), diag),
            Some(other) => {
                diag.error(&path.key("id"), format!("{other} is not a string"));
                None
            }
            None => default_id,
        };
        let (router, bridge) = postgresql::bridge(worker, path, self.dir, self.env, diag)?;
        let id = id?;
        let (url, credentials, realm) =
            router::target(self, router, &id, &path.key("router"), diag)?;
        let component = Component {
            name: "PostgreSQL bridge".to_owned(),
            realm,
            router: url,
            credentials,
            kind: ComponentKind::Postgresql(Box::new(bridge)),
        };
        (!disabled).then(|| BridgeWorker {
            id,
            components: vec![component],
        })
    }

    /// Admits a component as `authid` to the worker socket with `role` on
    /// `realm`, which the router must have.
    fn own(
        &mut self,
        authid: String,
        role: String,
        realm: &str,
        path: &Path,
        diag: &mut Diagnostics,
    ) -> Option<(Url, Credentials)> {
        // Without a router (its part of the config has errors) there is
        // nothing to check against.
        let realms = self.router.map(|r| r.realms.as_slice());
        let realms = realms.unwrap_or_default();
        if self.router.is_some()
            && !realms
                .iter()
                .any(|r| r.name == realm || r.name == REALM_TEMPLATE)
        {
            diag.error(
                &path.key("realm"),
                format!("realm \"{realm}\" is not defined in this node's router: add it to the router worker's realms"),
            );
            return None;
        }
        if let Some(defined) = realms.iter().find(|r| r.name == realm)
            && !defined.roles.iter().any(|r| r.name == role)
        {
            diag.warn(
                &path.key("realm"),
                format!("role \"{role}\" is not defined in realm \"{realm}\": the component will be refused"),
            );
        }
        let Some(credentials) = self.socket.admit(authid, role, realm) else {
            diag.error(path, "cannot make the component's ticket for the worker socket (no random bytes from the operating system)");
            return None;
        };
        Some((
            Url::rawsocket_unix(&self.dir.join(SOCKET_FILE)),
            credentials,
        ))
    }
}

/// Checks that a component is of `"type": "class"` (a `function`
/// component is Python code).
fn class_type(value: &Value, path: &Path, diag: &mut Diagnostics) -> Option<()> {
    match value.get("type").and_then(Value::as_str) {
        Some("class") => Some(()),
        Some(other) => {
            diag.error(
                &path.key("type"),
                format!("\"{other}\" components are Python code, which ringbar does not load: run them as a \"guest\" worker (a process that connects to a transport)"),
            );
            None
        }
        None => {
            diag.error(path, "missing \"type\": \"class\" of the component");
            None
        }
    }
}

#[cfg(test)]
mod tests;
