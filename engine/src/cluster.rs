//! The cluster link's driver: one thread with its own tokio runtime that
//! carries the sans-IO [`Link`] over NATS. It reads the link's mailbox like
//! a core, hands in what NATS delivers and the heartbeat's ticks, and does
//! what the link asks: publish, ask another node for its state, mail a core.
//!
//! While NATS is unreachable the link keeps its state and this node routes
//! on its own; what would have gone to other nodes is counted and dropped
//! (a publication is never held back for an unreachable cluster).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::{Client, ConnectOptions, Event};
use futures_util::StreamExt;
use ringbar_router::cluster::{ClaimAnswer, Link, LinkConfig, Output, Starts};
use ringbar_router::core::Shared;
use ringbar_router::mesh::SendError;
use tokio::sync::{mpsc, watch};

use crate::config::{ClusterConfig, NatsAuth};

/// How long a claim waits for the registrations bucket while NATS is
/// reachable before its registration goes on unchecked.
const CLAIM_PATIENCE: Duration = Duration::from_secs(2);

/// Messages from NATS waiting for the link, per subscription, at most.
const SUBSCRIPTION_CAPACITY: usize = 8_192;

/// The longest wait between attempts to reach NATS again.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// Connection events, state answers and retained entries waiting for
/// the link, at most.
const LINK_EVENTS: usize = 256;

/// What waits for a bucket's task (retained publications to write,
/// claims to make), at most; a retained publication past it is counted as
/// not sent (the publishing node keeps it), a claim goes on unchecked.
const BUCKET_QUEUE: usize = 1024;

/// How long to wait before setting up the retained-events bucket again
/// after it failed (NATS away, JetStream not ready).
const BUCKET_RETRY: Duration = Duration::from_millis(500);

/// Starts the link's thread; it runs until `shutdown` turns true.
pub(crate) fn start(
    config: ClusterConfig,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("ringbar-cluster".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(error = %e, "cluster: cannot start the link's runtime");
                    return;
                }
            };
            tokio::task::LocalSet::new().block_on(&runtime, run(config, shared, shutdown));
        })
}

/// What the link hears besides NATS messages and mail.
enum Heard {
    /// NATS came or went.
    Connection(bool),
    /// An entry of the retained-events bucket.
    Retained(bytes::Bytes),
    /// The answer to a claim.
    Claim(u64, ClaimAnswer),
}

/// What the registrations bucket is asked to do, in order.
enum ClaimOp {
    /// Create `key` with `value` unless another node holds it; answer `id`.
    Claim { id: u64, key: String, value: String },
    /// Delete `key` when it still holds `value`.
    Release { key: String, value: String },
    /// Delete every key some starts of `node` hold.
    ReleaseAll { node: String, starts: Starts },
}

async fn run(config: ClusterConfig, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let Some(port) = shared.cluster.as_ref() else {
        tracing::error!("cluster: the router was started without a cluster port");
        return;
    };
    let mailbox = port.link;
    let Some(mut link) = Link::new(
        shared.clone(),
        LinkConfig {
            node: config.node.clone(),
            incarnation: shared.realms.seeds().next(),
            subject_prefix: config.subject_prefix.clone(),
            failure_timeout: config.failure_timeout,
        },
    ) else {
        return;
    };
    let (heard, mut hearing) = mpsc::channel(LINK_EVENTS);
    let client = match connect(&config, heard.clone()).await {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(node = %config.node, error = %e, "cluster: cannot use the NATS settings: this node routes on its own");
            return;
        }
    };
    let mut subscribers = Vec::new();
    for subject in link.subjects() {
        match client.subscribe(subject.clone()).await {
            Ok(s) => subscribers.push(s),
            Err(e) => {
                tracing::error!(subject, error = %e, "cluster: cannot subscribe: this node routes on its own");
                return;
            }
        }
    }
    let mut messages = futures_util::stream::select_all(subscribers);
    // Every task of the link, stopped inside the runtime at shutdown (the
    // NATS client's parts must be dropped where a runtime runs).
    let mut tasks = tokio::task::JoinSet::new();
    // A bucket is kept on up to 3 of the servers listed.
    let replicas = config.nats.servers.len().clamp(1, 3);
    let (claims, claim_ops) = mpsc::channel(BUCKET_QUEUE);
    tasks.spawn_local(keep_claims(
        client.clone(),
        link.registrations_bucket(),
        replicas,
        claim_ops,
        heard.clone(),
    ));
    link.release_earlier_claims();
    let (retain, puts) = mpsc::channel(BUCKET_QUEUE);
    tasks.spawn_local(keep_retained(
        client.clone(),
        link.retained_bucket(),
        replicas,
        puts,
        heard.clone(),
    ));
    // The first heartbeat goes out when NATS is reached (`on_connection`).
    let mut ticks = tokio::time::interval_at(
        tokio::time::Instant::now() + config.heartbeat,
        config.heartbeat,
    );
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let buckets = Buckets {
        retain: &retain,
        claims: &claims,
    };
    tracing::info!(node = %config.node, realms = ?config.realms, servers = ?config.nats.servers, "cluster link started");
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => break,
            () = std::future::poll_fn(|cx| shared.mailboxes.poll_mail(mailbox, cx)) => {
                shared.mailboxes.drain(mailbox, |mail| link.on_mail(mail));
            }
            Some(message) = messages.next() => {
                link.on_message(message.payload, shared.clock.now());
            }
            Some(event) = hearing.recv() => match event {
                Heard::Connection(up) => link.on_connection(up),
                Heard::Retained(entry) => link.on_retained(entry, shared.clock.now()),
                Heard::Claim(id, answer) => link.on_claim_answer(id, answer),
            },
            _ = ticks.tick() => link.tick(shared.clock.now()),
        }
        carry_out(&mut link, &client, &shared, mailbox, &buckets).await;
    }
    link.leave();
    carry_out(&mut link, &client, &shared, mailbox, &buckets).await;
    if tokio::time::timeout(Duration::from_secs(1), client.flush())
        .await
        .is_err()
    {
        tracing::debug!("cluster: NATS not flushed at shutdown");
    }
    tasks.shutdown().await;
}

/// The NATS client of `config`, connecting in the background (a node
/// starts while NATS is away) and telling `heard` when it comes and goes.
async fn connect(config: &ClusterConfig, heard: mpsc::Sender<Heard>) -> std::io::Result<Client> {
    // What was said about NATS since it was last reached: once each.
    let told = Arc::new(Told::default());
    let mut options = ConnectOptions::new()
        .name(format!("ringbar {}", config.node))
        .no_echo()
        .retry_on_initial_connect()
        // Messages waiting to be read, per subject, at most: a node that
        // falls behind loses what does not fit (NATS is at most once),
        // never its memory.
        .subscription_capacity(SUBSCRIPTION_CAPACITY)
        .max_reconnects(None)
        .reconnect_delay_callback(|attempts| {
            MAX_RECONNECT_DELAY.min(
                Duration::from_millis(100) * u32::try_from(attempts).unwrap_or(u32::MAX).max(1),
            )
        })
        .event_callback(move |event| {
            let heard = heard.clone();
            let told = told.clone();
            async move {
                let up = match event {
                    Event::Connected => {
                        told.refused.store(false, Ordering::Relaxed);
                        told.behind.store(false, Ordering::Relaxed);
                        true
                    }
                    Event::Disconnected => false,
                    Event::ServerError(e) => {
                        if !told.refused.swap(true, Ordering::Relaxed) {
                            tracing::warn!(error = %e, "cluster: NATS refused this node: check ringbar.cluster.nats (credentials, TLS)");
                        }
                        return;
                    }
                    Event::SlowConsumer(_) => {
                        if !told.behind.swap(true, Ordering::Relaxed) {
                            tracing::warn!("cluster: messages from NATS dropped: this node fell behind");
                        }
                        return;
                    }
                    other => {
                        tracing::debug!(event = %other, "cluster: NATS event");
                        return;
                    }
                };
                let _ = heard.send(Heard::Connection(up)).await;
            }
        });
    options = match &config.nats.auth {
        NatsAuth::None => options,
        NatsAuth::Token(token) => options.token(token.clone()),
        NatsAuth::UserPassword { user, password } => {
            options.user_and_password(user.clone(), password.clone())
        }
        NatsAuth::Nkey(seed) => options.nkey(seed.clone()),
        NatsAuth::CredentialsFile(path) => options.credentials_file(path).await?,
    };
    if let Some(tls) = &config.nats.tls {
        options = options.require_tls(true);
        for ca in &tls.ca_certificates {
            options = options.add_root_certificates(ca.clone());
        }
        if let Some((certificate, key)) = &tls.client {
            options = options.add_client_certificate(certificate.clone(), key.clone());
        }
    }
    options
        .connect(config.nats.servers.as_slice())
        .await
        .map_err(std::io::Error::other)
}

/// The queues of the tasks that keep the buckets.
struct Buckets<'a> {
    retain: &'a mpsc::Sender<(String, bytes::Bytes)>,
    claims: &'a mpsc::Sender<ClaimOp>,
}

/// Trouble with NATS already logged since the link was last connected
/// (the client reports it at every attempt).
#[derive(Default)]
struct Told {
    /// NATS refused this node (credentials).
    refused: AtomicBool,
    /// Messages were dropped: this node fell behind.
    behind: AtomicBool,
}

/// Does everything the link asked for.
async fn carry_out(
    link: &mut Link,
    client: &Client,
    shared: &Shared,
    mailbox: usize,
    buckets: &Buckets<'_>,
) {
    while let Some(output) = link.next_output() {
        match output {
            Output::Publish { subject, payload } => send(link, client, subject, payload).await,
            Output::Retain { key, payload } => {
                if buckets.retain.try_send((key, payload)).is_err() {
                    link.figures().not_sent.add(1);
                }
            }
            Output::Claim { id, key, value } => {
                if buckets
                    .claims
                    .try_send(ClaimOp::Claim { id, key, value })
                    .is_err()
                {
                    // The bucket's queue is full: the registration goes
                    // on unchecked rather than wait.
                    link.on_claim_answer(id, ClaimAnswer::Unchecked);
                }
            }
            Output::Release { key, value } => {
                if buckets
                    .claims
                    .try_send(ClaimOp::Release { key, value })
                    .is_err()
                {
                    tracing::warn!(
                        "cluster: a claim's release is dropped: the registrations bucket's queue is full"
                    );
                }
            }
            Output::ReleaseClaims { node, starts } => {
                if buckets
                    .claims
                    .try_send(ClaimOp::ReleaseAll { node, starts })
                    .is_err()
                {
                    tracing::warn!(
                        "cluster: a node's claims are not released: the registrations bucket's queue is full"
                    );
                }
            }
            Output::Mail { to, mut mail } => loop {
                match shared.mailboxes.send(mailbox, to, mail) {
                    Ok(()) => break,
                    Err(SendError::Full(back)) => {
                        // Made before the retry, so the drain that makes
                        // room cannot be missed.
                        let Some(room) = shared.mailboxes.room(to) else {
                            break;
                        };
                        match shared.mailboxes.send(mailbox, to, back) {
                            Ok(()) => break,
                            Err(SendError::Full(back)) => {
                                mail = back;
                                room.await;
                            }
                            Err(SendError::NoSuchCore(_)) => break,
                        }
                    }
                    Err(SendError::NoSuchCore(_)) => {
                        tracing::error!(to, "cluster: mail to an unknown core dropped");
                        break;
                    }
                }
            },
        }
    }
}

/// Publishes one message, or counts it as not sent while NATS is away (so
/// that a publisher here is never held back by the cluster).
async fn send(link: &Link, client: &Client, subject: String, payload: bytes::Bytes) {
    let figures = link.figures();
    if client.connection_state() != async_nats::connection::State::Connected {
        figures.not_sent.add(1);
        return;
    }
    let bytes = u64::try_from(payload.len()).unwrap_or(u64::MAX);
    match client.publish(subject, payload).await {
        Ok(()) => {
            figures.messages_out.add(1);
            figures.bytes_out.add(bytes);
        }
        Err(e) => {
            figures.not_sent.add(1);
            tracing::debug!(error = %e, "cluster: message not sent");
        }
    }
}

/// One of the cluster's JetStream key-value buckets, made when missing and
/// set up again after a failure; why it cannot be used is said once, until
/// it can.
struct Bucket {
    client: Client,
    jetstream: async_nats::jetstream::Context,
    name: String,
    description: &'static str,
    replicas: usize,
    /// What goes without the bucket, for the warning.
    without: &'static str,
    told: bool,
}

impl Bucket {
    fn new(
        client: Client,
        name: String,
        description: &'static str,
        replicas: usize,
        without: &'static str,
    ) -> Self {
        Self {
            jetstream: async_nats::jetstream::new(client.clone()),
            client,
            name,
            description,
            replicas,
            without,
            told: false,
        }
    }

    /// Whether the NATS client is connected.
    fn connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// The bucket, or `None` (said once while NATS is there but JetStream
    /// does not answer).
    async fn open(&mut self) -> Option<async_nats::jetstream::kv::Store> {
        let config = async_nats::jetstream::kv::Config {
            bucket: self.name.clone(),
            description: self.description.into(),
            history: 1,
            num_replicas: self.replicas,
            ..Default::default()
        };
        match self.jetstream.create_or_update_key_value(config).await {
            Ok(store) => {
                self.told = false;
                Some(store)
            }
            Err(e) => {
                if !self.told && self.connected() {
                    self.told = true;
                    tracing::warn!(bucket = self.name, server = %self.client.server_info().version, error = %e, "cluster: {} until JetStream (NATS 2.10 or newer) answers", self.without);
                }
                None
            }
        }
    }
}

/// Waits before a bucket is set up again, giving what arrives on `ops`
/// meanwhile to `keep`; `false` when the link is gone.
async fn wait_keeping<T>(ops: &mut mpsc::Receiver<T>, mut keep: impl FnMut(T)) -> bool {
    let retry = tokio::time::sleep(BUCKET_RETRY);
    tokio::pin!(retry);
    loop {
        tokio::select! {
            () = &mut retry => return true,
            op = ops.recv() => match op {
                Some(op) => keep(op),
                None => return false,
            },
        }
    }
}

/// Keeps the cluster's retained-events bucket: writes this node's retained
/// publications to it, the latest per key first written when NATS is away,
/// and hands every entry (from every node, in the bucket's order) to the
/// link. Sets the bucket up again whenever its watch ends, as after a NATS
/// restart.
async fn keep_retained(
    client: Client,
    bucket: String,
    replicas: usize,
    mut puts: mpsc::Receiver<(String, bytes::Bytes)>,
    heard: mpsc::Sender<Heard>,
) {
    let mut bucket = Bucket::new(
        client,
        bucket,
        "ringbar: the retained event of each topic of the shared realms",
        replicas,
        "retained events are not shared",
    );
    // Not yet written: the latest publication of each key.
    let mut pending: std::collections::HashMap<String, bytes::Bytes> =
        std::collections::HashMap::new();
    loop {
        let watched = match bucket.open().await {
            Some(store) => match store.watch_with_history(">").await {
                Ok(watch) => Some((store, watch)),
                Err(e) => {
                    tracing::debug!(bucket = bucket.name, error = %e, "cluster: retained-events watch not started");
                    None
                }
            },
            None => None,
        };
        let Some((store, mut watch)) = watched else {
            let keep = |(key, payload)| {
                pending.insert(key, payload);
            };
            if !wait_keeping(&mut puts, keep).await {
                return;
            }
            continue;
        };
        loop {
            write_pending(&store, &mut pending).await;
            tokio::select! {
                entry = watch.next() => match entry {
                    Some(Ok(entry)) => {
                        if entry.operation == async_nats::jetstream::kv::Operation::Put
                            && heard.send(Heard::Retained(entry.value)).await.is_err()
                        {
                            return;
                        }
                    }
                    Some(Err(e)) => {
                        tracing::debug!(bucket = bucket.name, error = %e, "cluster: retained-events watch ended");
                        break;
                    }
                    None => break,
                },
                put = puts.recv() => match put {
                    Some((key, payload)) => { pending.insert(key, payload); }
                    None => return,
                },
                // What could not be written is tried again.
                () = tokio::time::sleep(BUCKET_RETRY), if !pending.is_empty() => {}
            }
        }
    }
}

/// Writes what is pending; what fails stays pending for the next try.
async fn write_pending(
    store: &async_nats::jetstream::kv::Store,
    pending: &mut std::collections::HashMap<String, bytes::Bytes>,
) {
    let keys: Vec<String> = pending.keys().cloned().collect();
    for key in keys {
        let Some(payload) = pending.get(&key).cloned() else {
            continue;
        };
        match store.put(&key, payload).await {
            Ok(_) => {
                pending.remove(&key);
            }
            Err(e) => {
                tracing::debug!(error = %e, "cluster: retained event not written yet");
                return;
            }
        }
    }
}

/// Keeps the registrations bucket: claims a `single` registration's key
/// for this node (atomically: a key another node holds is refused),
/// releases it, and releases the claims of nodes that are gone. While the
/// bucket cannot be used, claims are granted unchecked (routing goes on)
/// and releases wait.
async fn keep_claims(
    client: Client,
    bucket: String,
    replicas: usize,
    mut ops: mpsc::Receiver<ClaimOp>,
    heard: mpsc::Sender<Heard>,
) {
    let mut bucket = Bucket::new(
        client,
        bucket,
        "ringbar: the node holding each single registration of the shared realms",
        replicas,
        "single registrations are not checked cluster-wide",
    );
    let mut waiting: std::collections::VecDeque<ClaimOp> = std::collections::VecDeque::new();
    // Since when the bucket could not be used.
    let mut unchecked_since: Option<tokio::time::Instant> = None;
    loop {
        let store = match bucket.open().await {
            Some(store) => {
                unchecked_since = None;
                store
            }
            None => {
                if !wait_keeping(&mut ops, |op| waiting.push_back(op)).await {
                    return;
                }
                // A claim waits for the bucket while NATS is there (it is
                // being set up), not longer than CLAIM_PATIENCE; then, or
                // while NATS is away, the registration goes on unchecked.
                let connected = bucket.connected();
                let now = tokio::time::Instant::now();
                let since = *unchecked_since.get_or_insert(now);
                if !connected || now.duration_since(since) >= CLAIM_PATIENCE {
                    let mut kept = std::collections::VecDeque::new();
                    for op in waiting.drain(..) {
                        match op {
                            ClaimOp::Claim { id, .. } => {
                                if heard
                                    .send(Heard::Claim(id, ClaimAnswer::Unchecked))
                                    .await
                                    .is_err()
                                {
                                    return;
                                }
                            }
                            other => kept.push_back(other),
                        }
                    }
                    waiting = kept;
                }
                continue;
            }
        };
        loop {
            let op = match waiting.pop_front() {
                Some(op) => op,
                None => match ops.recv().await {
                    Some(op) => op,
                    None => return,
                },
            };
            match claim_op(&store, op).await {
                Ok(Some(answer)) => {
                    if heard.send(answer).await.is_err() {
                        return;
                    }
                }
                Ok(None) => {}
                Err(op) => {
                    // The bucket failed: set it up again, this op first.
                    waiting.push_front(op);
                    tokio::time::sleep(BUCKET_RETRY).await;
                    break;
                }
            }
        }
    }
}

/// Does one op on the registrations bucket: its answer for the link, if
/// it has one, or the op back when the bucket failed.
async fn claim_op(
    store: &async_nats::jetstream::kv::Store,
    op: ClaimOp,
) -> Result<Option<Heard>, ClaimOp> {
    use async_nats::jetstream::kv::CreateErrorKind;
    match op {
        ClaimOp::Claim { id, key, value } => {
            let granted = match store.create(&key, value.clone().into()).await {
                Ok(_) => true,
                Err(e) if e.kind() == CreateErrorKind::AlreadyExists => {
                    // Held already: by this very start of this node (a
                    // claim made again after NATS came back), or another.
                    matches!(store.get(&key).await, Ok(Some(v)) if v == value.as_bytes())
                }
                Err(e) => {
                    tracing::debug!(error = %e, "cluster: claim not checked");
                    return Err(ClaimOp::Claim { id, key, value });
                }
            };
            let answer = if granted {
                ClaimAnswer::Granted
            } else {
                ClaimAnswer::Refused
            };
            Ok(Some(Heard::Claim(id, answer)))
        }
        ClaimOp::Release { key, value } => {
            match store.get(&key).await {
                Ok(Some(v)) if v == value.as_bytes() => {
                    if store.delete(&key).await.is_err() {
                        return Err(ClaimOp::Release { key, value });
                    }
                }
                Ok(_) => {}
                Err(_) => return Err(ClaimOp::Release { key, value }),
            }
            Ok(None)
        }
        ClaimOp::ReleaseAll { node, starts } => {
            let Ok(mut keys) = store.keys().await else {
                return Err(ClaimOp::ReleaseAll { node, starts });
            };
            let mut theirs = Vec::new();
            while let Some(key) = keys.next().await {
                let Ok(key) = key else {
                    return Err(ClaimOp::ReleaseAll { node, starts });
                };
                if let Ok(Some(value)) = store.get(&key).await
                    && held_by(&value, &node, starts)
                {
                    theirs.push(key);
                }
            }
            for key in theirs {
                if store.delete(&key).await.is_err() {
                    return Err(ClaimOp::ReleaseAll { node, starts });
                }
            }
            Ok(None)
        }
    }
}

/// Whether a claim's value (`"NODE START"`) is one of `starts` of `node`.
fn held_by(value: &[u8], node: &str, starts: Starts) -> bool {
    let Some((name, start)) = std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.split_once(' '))
    else {
        return false;
    };
    let Ok(start) = start.parse::<u64>() else {
        return false;
    };
    name == node
        && match starts {
            Starts::Only(s) => start == s,
            Starts::AllBut(s) => start != s,
        }
}
