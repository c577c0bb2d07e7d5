//! The management service's backend: a WAMP session of the service on its
//! own router (over loopback, authenticated with the service's instance
//! key, role `service`) that registers the management API and keeps the
//! state database in step.
//!
//! | procedure / topic | who | what |
//! |---|---|---|
//! | `ringbar.management.pairing.activation_code` | a `pairing` node | a new code for it and its lifetime |
//! | `ringbar.management.pairing.on_paired` | (event to that node) | it was paired: `owner`, `name` |
//! | `ringbar.management.owner.pair(code, name=)` | an owner | pairs the node waiting with `code` |
//! | `ringbar.management.owner.list_nodes` | an owner | their nodes |
//! | `ringbar.management.owner.get_node_status(node)` | an owner | online, last status report |
//! | `ringbar.management.owner.get_node_config(node)` | an owner | the config the node runs |
//! | `ringbar.management.owner.set_node_config(node, config)` | an owner | validates, stores and pushes it |
//! | `ringbar.management.owner.unpair_node(node)` | an owner | forgets the pairing |
//! | `ringbar.management.owner.on_node_status` | (events to the owner) | a node's status report |
//! | `ringbar.management.node.get_config` | a paired node | its config, JSON text |
//! | `ringbar.management.node.report_status(status)` | a paired node | records it, tells the owner |
//! | `ringbar.management.node.on_config` | (event to the node) | a new config, JSON text |
//!
//! Callers are identified by the router (`disclose_caller`), never by
//! their arguments: a node only reaches its own record, an owner only
//! their own nodes.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ed25519_dalek::SigningKey;
use ringbar_client::{Credentials, Dict, Error, Incoming, Invocation, Session, Url, Value};
use ringbar_engine::config::{Endpoint, RouterConfig, TransportKind, WebService};
use ringbar_router::error::RoutingError;

use super::authenticator::OWNER_ROLE;
use super::codes::{ActivationCodes, CodeError};
use super::config::MANAGEMENT_REALM;
use super::node_config;
use super::store::{Node, Store};

/// How long the backend waits before joining again after its session
/// ended (the router starting or stopping).
const REJOIN_DELAY: Duration = Duration::from_millis(500);

/// The procedures the backend registers.
const PROCEDURES: [&str; 9] = [
    "ringbar.management.pairing.activation_code",
    "ringbar.management.owner.pair",
    "ringbar.management.owner.list_nodes",
    "ringbar.management.owner.get_node_status",
    "ringbar.management.owner.get_node_config",
    "ringbar.management.owner.set_node_config",
    "ringbar.management.owner.unpair_node",
    "ringbar.management.node.get_config",
    "ringbar.management.node.report_status",
];
/// The event a node waiting for pairing gets when it is paired.
const ON_PAIRED: &str = "ringbar.management.pairing.on_paired";
/// The event a paired node gets with a new config.
const ON_CONFIG: &str = "ringbar.management.node.on_config";
/// The event an owner gets with a node's status.
const ON_NODE_STATUS: &str = "ringbar.management.owner.on_node_status";

/// A node's last status report, kept in memory.
#[derive(Debug, Clone)]
struct Status {
    report: Dict,
    at: Instant,
}

/// How stale the stored `last_seen` of a reporting node may get, in
/// seconds.
const LAST_SEEN_GRAIN_S: u64 = 10;

/// How long a node counts as online after its last report.
const ONLINE_FOR: Duration = Duration::from_secs(5);

/// The backend's state besides the database.
struct Backend {
    store: Arc<Store>,
    dir: std::path::PathBuf,
    codes: ActivationCodes,
    status: HashMap<String, Status>,
}

/// An answer: a result, or an error URI with a message.
type Answer = Result<(Vec<Value>, Dict), (&'static str, String)>;

/// An event to publish after answering, to one session by authid.
struct Publication {
    topic: &'static str,
    args: Vec<Value>,
    to_authid: String,
}

/// Where the backend joins: the router's first WAMP-over-WebSocket
/// service on TCP without TLS (a `websocket` transport, or a websocket
/// path of a `web` transport), over loopback.
pub(crate) fn local_url(router: &RouterConfig) -> Result<Url, String> {
    for transport in &router.transports {
        let Endpoint::Tcp {
            port, tls: None, ..
        } = &transport.endpoint
        else {
            continue;
        };
        let path = match &transport.kind {
            TransportKind::WebSocket(_) => "ws",
            TransportKind::Web(web) => match web
                .paths
                .iter()
                .find(|(_, service)| matches!(service, WebService::WebSocket(_)))
            {
                Some((name, _)) if name == "/" => "",
                Some((name, _)) => name,
                None => continue,
            },
            _ => continue,
        };
        return Url::parse(&format!("ws://127.0.0.1:{port}/{path}")).map_err(|e| e.to_string());
    }
    Err("the management config needs WAMP over WebSocket on TCP without TLS (a websocket transport, or a websocket path of a web transport): the service's backend joins through it".into())
}

/// Runs the backend on its own thread until the process ends.
pub(crate) fn spawn(
    dir: &Path,
    store: Arc<Store>,
    key: SigningKey,
    url: Url,
) -> std::io::Result<()> {
    let mut backend = Backend {
        store,
        dir: dir.to_path_buf(),
        codes: ActivationCodes::default(),
        status: HashMap::new(),
    };
    crate::session_thread::spawn("management", move || async move {
        backend.run(&url, key).await;
    })
}

impl Backend {
    /// Joins, serves, and joins again whenever the session ends.
    async fn run(&mut self, url: &Url, key: SigningKey) {
        let credentials = Credentials::Cryptosign { authid: None, key };
        let mut ready = false;
        loop {
            match self.serve(url, &credentials, &mut ready).await {
                Ok(()) => return,
                Err(error) if ready => {
                    tracing::warn!("Management backend session ended: {error}; joining again.");
                    ready = false;
                }
                Err(error) => tracing::debug!("management backend cannot join yet: {error}"),
            }
            tokio::time::sleep(REJOIN_DELAY).await;
        }
    }

    async fn serve(
        &mut self,
        url: &Url,
        credentials: &Credentials,
        ready: &mut bool,
    ) -> Result<(), Error> {
        let mut session = Session::join(url, MANAGEMENT_REALM, credentials).await?;
        let options: Dict = [("disclose_caller", Value::from(true))]
            .into_iter()
            .collect();
        let mut procedures = HashMap::new();
        for procedure in PROCEDURES {
            let registration = session.register(procedure, options.clone()).await?;
            procedures.insert(registration, procedure);
        }
        *ready = true;
        tracing::info!("Management API ready on realm '{MANAGEMENT_REALM}'.");
        loop {
            let Incoming::Invocation(invocation) = session.next().await? else {
                continue;
            };
            let procedure = procedures
                .get(&invocation.registration)
                .copied()
                .unwrap_or_default();
            let mut publications = Vec::new();
            match self.answer(procedure, &invocation, &mut publications) {
                Ok((args, kwargs)) => {
                    session
                        .yield_result(invocation.request, args, kwargs)
                        .await?
                }
                Err((uri, message)) => {
                    session
                        .yield_error(invocation.request, uri, &message)
                        .await?
                }
            }
            for publication in publications {
                let options: Dict = [(
                    "eligible_authid",
                    Value::List(vec![Value::from(publication.to_authid)]),
                )]
                .into_iter()
                .collect();
                session
                    .publish(publication.topic, publication.args, Dict::new(), options)
                    .await?;
            }
        }
    }

    /// The answer to one call of `procedure`.
    fn answer(
        &mut self,
        procedure: &str,
        invocation: &Invocation,
        publications: &mut Vec<Publication>,
    ) -> Answer {
        let caller = |key: &str| {
            invocation
                .details
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let (authid, authrole) = (caller("caller_authid"), caller("caller_authrole"));
        let arg = |at: usize, name: &str| -> Result<String, (&'static str, String)> {
            invocation
                .args
                .get(at)
                .or_else(|| invocation.kwargs.get(name))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or((
                    RoutingError::InvalidArgument.uri(),
                    format!("{procedure} needs '{name}' (a string) as argument {at}"),
                ))
        };
        let owner_only = || {
            if authrole == OWNER_ROLE {
                Ok(())
            } else {
                Err((
                    RoutingError::NotAuthorized.uri(),
                    format!("{procedure} is for owners"),
                ))
            }
        };
        match procedure {
            "ringbar.management.pairing.activation_code" => self.activation_code(&authid),
            "ringbar.management.owner.pair" => {
                owner_only()?;
                let name = invocation
                    .kwargs
                    .get("name")
                    .or_else(|| invocation.args.get(1))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                self.pair(&authid, &arg(0, "code")?, name, publications)
            }
            "ringbar.management.owner.list_nodes" => {
                owner_only()?;
                self.list_nodes(&authid)
            }
            "ringbar.management.owner.get_node_status" => {
                owner_only()?;
                let node = self.owned(&authid, &arg(0, "node")?)?;
                Ok((vec![Value::Dict(self.status_of(&node.0))], Dict::new()))
            }
            "ringbar.management.owner.get_node_config" => {
                owner_only()?;
                let (_, node) = self.owned(&authid, &arg(0, "node")?)?;
                Ok((vec![Value::from(config_text(&node))], Dict::new()))
            }
            "ringbar.management.owner.set_node_config" => {
                owner_only()?;
                let (pubkey, node) = self.owned(&authid, &arg(0, "node")?)?;
                self.set_config(&pubkey, node, &arg(1, "config")?, publications)
            }
            "ringbar.management.owner.unpair_node" => {
                owner_only()?;
                let (pubkey, node) = self.owned(&authid, &arg(0, "node")?)?;
                let unpaired = Node {
                    paired: false,
                    owner: None,
                    ..node
                };
                self.put(&pubkey, &unpaired)?;
                tracing::info!("Node {pubkey} unpaired by '{authid}'.");
                Ok((Vec::new(), Dict::new()))
            }
            "ringbar.management.node.get_config" => {
                let node = self.paired_node(&authid)?;
                Ok((vec![Value::from(config_text(&node))], Dict::new()))
            }
            "ringbar.management.node.report_status" => {
                let node = self.paired_node(&authid)?;
                let report = match invocation.args.first() {
                    Some(Value::Dict(report)) => report.clone(),
                    _ => invocation.kwargs.clone(),
                };
                self.status.insert(
                    authid.clone(),
                    Status {
                        report,
                        at: Instant::now(),
                    },
                );
                // Reports come every second: the database keeps
                // `last_seen` to within LAST_SEEN_GRAIN, not a write each.
                let now = unix_now();
                if node
                    .last_seen
                    .is_none_or(|seen| now.saturating_sub(seen) >= LAST_SEEN_GRAIN_S)
                {
                    self.put(
                        &authid,
                        &Node {
                            last_seen: Some(now),
                            ..node.clone()
                        },
                    )?;
                }
                if let Some(owner) = node.owner {
                    let mut status = self.status_of(&authid);
                    status.insert("node", authid.as_str());
                    publications.push(Publication {
                        topic: ON_NODE_STATUS,
                        args: vec![Value::Dict(status)],
                        to_authid: owner,
                    });
                }
                Ok((Vec::new(), Dict::new()))
            }
            _ => Err((
                RoutingError::NoSuchProcedure.uri(),
                format!("the management backend has no procedure '{procedure}'"),
            )),
        }
    }

    /// A new activation code for the node `pubkey`, recording the node.
    fn activation_code(&mut self, pubkey: &str) -> Answer {
        let record = self.store.node(pubkey).map_err(internal)?;
        if record.as_ref().is_some_and(|known| known.paired) {
            return Err((
                "ringbar.management.error.already_paired",
                "this node is paired already: join again to get its configuration".into(),
            ));
        }
        let mut random = || {
            let mut bytes = [0u8; 4];
            getrandom::fill(&mut bytes).ok()?;
            Some(u32::from_le_bytes(bytes))
        };
        let (code, lifetime) = self
            .codes
            .issue(pubkey, Instant::now(), &mut random)
            .map_err(|e| (e.uri(), e.message()))?;
        // Only nodes the database knows are updated: unknown keys cost no
        // record until an owner pairs them.
        if let Some(known) = record {
            self.put(
                pubkey,
                &Node {
                    last_seen: Some(unix_now()),
                    ..known
                },
            )?;
        }
        tracing::info!("Activation code issued to node {pubkey}.");
        let result: Dict = [
            ("code", Value::from(code)),
            ("expires_in", Value::from(lifetime.as_secs())),
        ]
        .into_iter()
        .collect();
        Ok((vec![Value::Dict(result)], Dict::new()))
    }

    /// Pairs the node waiting with `code` to `owner`.
    fn pair(
        &mut self,
        owner: &str,
        code: &str,
        name: Option<String>,
        publications: &mut Vec<Publication>,
    ) -> Answer {
        let pubkey = match self.codes.redeem(owner, code, Instant::now()) {
            Ok(pubkey) => pubkey,
            Err(error) => {
                if error == CodeError::TooManyAttempts {
                    tracing::warn!("Owner '{owner}' tried too many wrong activation codes.");
                }
                return Err((error.uri(), error.message()));
            }
        };
        let config =
            node_config::read(&self.dir).map_err(|e| ("ringbar.management.error.config", e))?;
        let known = self
            .store
            .node(&pubkey)
            .map_err(internal)?
            .unwrap_or_default();
        let name = name
            .or(known.name)
            .unwrap_or_else(|| pubkey.chars().take(8).collect());
        let node = Node {
            name: Some(name.clone()),
            owner: Some(owner.to_owned()),
            paired: true,
            last_config: Some(config),
            last_seen: known.last_seen,
        };
        self.put(&pubkey, &node)?;
        tracing::info!("Node {pubkey} paired with owner '{owner}' as '{name}'.");
        let paired: Dict = [
            ("owner", Value::from(owner)),
            ("name", Value::from(name.as_str())),
        ]
        .into_iter()
        .collect();
        publications.push(Publication {
            topic: ON_PAIRED,
            args: vec![Value::Dict(paired)],
            to_authid: pubkey.clone(),
        });
        let result: Dict = [("node", Value::from(pubkey)), ("name", Value::from(name))]
            .into_iter()
            .collect();
        Ok((vec![Value::Dict(result)], Dict::new()))
    }

    /// The nodes of `owner`.
    fn list_nodes(&self, owner: &str) -> Answer {
        let nodes = self.store.nodes().map_err(internal)?;
        let list = nodes
            .into_iter()
            .filter(|(_, node)| node.paired && node.owner.as_deref() == Some(owner))
            .map(|(pubkey, node)| {
                let mut entry = self.status_of(&pubkey);
                entry.insert("node", pubkey.as_str());
                entry.insert("name", node.name.unwrap_or_default());
                if let Some(seen) = node.last_seen {
                    entry.insert("last_seen", seen);
                }
                Value::Dict(entry)
            })
            .collect();
        Ok((vec![Value::List(list)], Dict::new()))
    }

    /// Validates `text` as a node config, stores it and sends it to the
    /// node.
    fn set_config(
        &mut self,
        pubkey: &str,
        node: Node,
        text: &str,
        publications: &mut Vec<Publication>,
    ) -> Answer {
        // Named as the node's own file: the owner edits the node's config.
        let config = node_config::check(&self.dir, "config.json", text)
            .map_err(|e| ("ringbar.management.error.invalid_config", e))?;
        self.put(
            pubkey,
            &Node {
                last_config: Some(config),
                ..node
            },
        )?;
        publications.push(Publication {
            topic: ON_CONFIG,
            args: vec![Value::from(text)],
            to_authid: pubkey.to_owned(),
        });
        tracing::info!("New configuration for node {pubkey} stored and sent.");
        let note = "stored and sent: the node checks it, caches it and starts again with it (when it is online; else when it next connects)";
        Ok((vec![Value::from(note)], Dict::new()))
    }

    /// The node `pubkey` when it is paired with `owner`; the same error
    /// whether it does not exist or belongs to someone else.
    fn owned(&self, owner: &str, pubkey: &str) -> Result<(String, Node), (&'static str, String)> {
        match self.store.node(pubkey).map_err(internal)? {
            Some(node) if node.paired && node.owner.as_deref() == Some(owner) => {
                Ok((pubkey.to_owned(), node))
            }
            _ => Err((
                "ringbar.management.error.no_such_node",
                format!("you have no node {pubkey}"),
            )),
        }
    }

    fn paired_node(&self, pubkey: &str) -> Result<Node, (&'static str, String)> {
        match self.store.node(pubkey).map_err(internal)? {
            Some(node) if node.paired => Ok(node),
            _ => Err((
                "ringbar.management.error.not_paired",
                "this node is not paired: get an activation code".into(),
            )),
        }
    }

    fn status_of(&self, pubkey: &str) -> Dict {
        let mut status = Dict::new();
        match self.status.get(pubkey) {
            Some(last) => {
                status.insert("online", last.at.elapsed() < ONLINE_FOR);
                for (key, value) in last.report.iter() {
                    status.insert(key, value.clone());
                }
            }
            None => status.insert("online", false),
        }
        status
    }

    fn put(&self, pubkey: &str, node: &Node) -> Result<(), (&'static str, String)> {
        self.store.put_node(pubkey, node).map_err(internal)
    }
}

/// The JSON text of a node's config (the default when it has none yet).
fn config_text(node: &Node) -> String {
    node.last_config
        .as_ref()
        .map(serde_json::Value::to_string)
        .unwrap_or_default()
}

fn internal(error: impl std::fmt::Display) -> (&'static str, String) {
    tracing::error!("management state: {error}");
    (
        "ringbar.management.error.internal",
        "the management service could not read or write its state".into(),
    )
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
