//! The node's uplink to its management service (`ringbar.management.url`):
//! a WAMP session on the management realm, authenticated with the
//! instance key (WAMP-cryptosign), on a thread of its own.
//!
//! ```text
//!  join ──► role "pairing": activation code (a new one when it expires)
//!      │      └─ on_paired ──► "Instance paired. Owner is 'NAME'." ──► join again
//!      └──► role "node": get_config ──► check, cache in DIR/managed-config.json
//!             ├─ first config ──► the node starts routing with it
//!             ├─ on_config ──► checked and cached for the next start
//!             └─ every 10 s: report_status (what `ringbar status` shows)
//!  unreachable or dropped ──► retry after 1 s doubling to 30 s, with jitter
//! ```
//!
//! The router never waits for the uplink once it runs: a paired node keeps
//! routing with its cached config while the service is away.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use ringbar_client::{Credentials, Dict, Error, Incoming, Session, Url, Value};

use crate::config::{self, Overrides};
use crate::control;
use crate::management::MANAGEMENT_REALM;

/// Where the configuration from the management service is cached.
pub(crate) const MANAGED_CONFIG_FILE: &str = "managed-config.json";

/// The first wait before joining again.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest wait before joining again.
const MAX_RETRY: Duration = Duration::from_secs(30);
/// How often a paired node reports its status.
const STATUS_PERIOD: Duration = Duration::from_secs(10);
/// How soon a report is tried again when the router did not answer yet.
const STATUS_RETRY: Duration = Duration::from_secs(1);

const ACTIVATION_CODE: &str = "ringbar.management.pairing.activation_code";
const ON_PAIRED: &str = "ringbar.management.pairing.on_paired";
const GET_CONFIG: &str = "ringbar.management.node.get_config";
const REPORT_STATUS: &str = "ringbar.management.node.report_status";
const ON_CONFIG: &str = "ringbar.management.node.on_config";

/// The cached configuration of `dir`, when the node was configured before.
pub(crate) fn cached(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join(MANAGED_CONFIG_FILE)).ok()
}

/// Starts the uplink of the node `dir` to `url`. The first configuration
/// the service sends arrives on the receiver when `configured` is false
/// (the node waits for it); later ones are only cached.
pub(crate) fn spawn(
    dir: &Path,
    url: Url,
    key: SigningKey,
    configured: bool,
) -> std::io::Result<Receiver<String>> {
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    let mut uplink = Uplink {
        dir: dir.to_path_buf(),
        current: cached(dir),
        configured,
        sender,
    };
    crate::session_thread::spawn("uplink", move || async move {
        uplink.run(&url, key).await;
    })?;
    Ok(receiver)
}

/// The uplink's state.
struct Uplink {
    dir: PathBuf,
    /// The configuration in force (cached), as JSON text.
    current: Option<String>,
    /// Whether the node has its configuration (so it routes).
    configured: bool,
    sender: SyncSender<String>,
}

/// How one session ended without an error.
enum Ended {
    /// The node was paired: join again, now as a node.
    Paired,
}

impl Uplink {
    /// Joins, serves, and joins again with backoff until the process ends.
    async fn run(&mut self, url: &Url, key: SigningKey) {
        let credentials = Credentials::Cryptosign { authid: None, key };
        let mut retry = FIRST_RETRY;
        loop {
            let mut connected = false;
            match self.session(url, &credentials, &mut connected).await {
                Ok(Ended::Paired) => {
                    retry = FIRST_RETRY;
                    continue;
                }
                Err(error) => {
                    if connected {
                        retry = FIRST_RETRY;
                    }
                    let wait = jittered(retry);
                    let state = if connected { "lost" } else { "unreachable" };
                    tracing::warn!(
                        "Management service at {url} {state} ({error}); the node keeps routing; retrying in {:.1} s.",
                        wait.as_secs_f64()
                    );
                    tokio::time::sleep(wait).await;
                    retry = (retry * 2).min(MAX_RETRY);
                }
            }
        }
    }

    async fn session(
        &mut self,
        url: &Url,
        credentials: &Credentials,
        connected: &mut bool,
    ) -> Result<Ended, Error> {
        let session = Session::join(url, MANAGEMENT_REALM, credentials).await?;
        *connected = true;
        tracing::info!("Connected to management service at {url}.");
        match session.authrole() {
            "pairing" => self.pairing(session).await,
            "node" => self.managed(session).await,
            other => Err(Error::Protocol(format!(
                "the management service gave this node the role '{other}' (expected 'pairing' or 'node')"
            ))),
        }
    }

    /// Not paired: show activation codes until an owner pairs the node.
    async fn pairing(&mut self, mut session: Session) -> Result<Ended, Error> {
        session.subscribe(ON_PAIRED, Dict::new()).await?;
        loop {
            let result = session
                .call(ACTIVATION_CODE, Vec::new(), Dict::new())
                .await?;
            let issued = result.args.first().and_then(Value::as_dict);
            let code = issued
                .and_then(|d| d.get("code"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    Error::Protocol("the activation code answer has no 'code'".to_owned())
                })?
                .to_owned();
            let lifetime = issued
                .and_then(|d| d.get("expires_in"))
                .and_then(Value::as_u64)
                .unwrap_or(600);
            tracing::info!("Activation code: {code}");
            tracing::debug!("The activation code expires in {lifetime} s.");
            let expiry = tokio::time::sleep(Duration::from_secs(lifetime));
            tokio::pin!(expiry);
            loop {
                tokio::select! {
                    incoming = session.next() => {
                        if let Incoming::Event(event) = incoming? {
                            let owner = event
                                .args
                                .first()
                                .and_then(Value::as_dict)
                                .and_then(|d| d.get("owner"))
                                .and_then(Value::as_str)
                                .unwrap_or_default();
                            tracing::info!("Instance paired. Owner is '{owner}'.");
                            let _ = session.leave().await;
                            return Ok(Ended::Paired);
                        }
                    }
                    () = &mut expiry => {
                        tracing::info!("Activation code {code} expired; a new one follows.");
                        break;
                    }
                }
            }
        }
    }

    /// Paired: take the configuration, then report status and take new
    /// configurations until the session ends.
    async fn managed(&mut self, mut session: Session) -> Result<Ended, Error> {
        session.subscribe(ON_CONFIG, Dict::new()).await?;
        let result = session.call(GET_CONFIG, Vec::new(), Dict::new()).await?;
        if let Some(text) = result.args.first().and_then(Value::as_str) {
            self.take(text);
        }
        let mut next_report = tokio::time::Instant::now();
        loop {
            tokio::select! {
                incoming = session.next() => {
                    if let Incoming::Event(event) = incoming?
                        && let Some(text) = event.args.first().and_then(Value::as_str)
                    {
                        self.take(text);
                    }
                }
                () = tokio::time::sleep_until(next_report) => {
                    // The router's control socket answers once it runs.
                    next_report += match control::request(&self.dir, "status") {
                        Ok(status) => {
                            session
                                .call(REPORT_STATUS, vec![from_json(&status)], Dict::new())
                                .await?;
                            STATUS_PERIOD
                        }
                        Err(_) => STATUS_RETRY,
                    };
                }
            }
        }
    }

    /// A configuration from the service: checked, cached, and handed to
    /// the node when it waits for one.
    fn take(&mut self, text: &str) {
        if self.current.as_deref() == Some(text) {
            return;
        }
        let path = self.dir.join(MANAGED_CONFIG_FILE);
        if let Err(error) = config::load_json(&self.dir, path.clone(), text, Overrides::default()) {
            tracing::warn!(
                "The management service sent a configuration this node cannot run; keeping the current one:\n{error}"
            );
            return;
        }
        let temporary = path.with_extension("json.new");
        let written =
            std::fs::write(&temporary, text).and_then(|()| std::fs::rename(&temporary, &path));
        if let Err(error) = written {
            tracing::warn!(
                "cannot cache the configuration in {}: {error}",
                path.display()
            );
        }
        self.current = Some(text.to_owned());
        if self.configured {
            tracing::info!(
                "New configuration from the management service cached in {}; it applies at the next start (live reconfiguration is not built yet).",
                path.display()
            );
            return;
        }
        match self.sender.try_send(text.to_owned()) {
            Ok(()) | Err(TrySendError::Full(_)) => self.configured = true,
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

/// `retry` less up to half of it at random, so that many nodes do not
/// reconnect in step.
fn jittered(retry: Duration) -> Duration {
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    retry - retry / 2 * u32::from(byte[0]) / 255
}

/// A JSON value as a WAMP value.
fn from_json(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => Value::UInt(u),
            (None, Some(i), _) => Value::from_i64(i),
            (None, None, f) => Value::Float(f.unwrap_or_default()),
        },
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(items) => Value::List(items.iter().map(from_json).collect()),
        serde_json::Value::Object(fields) => Value::Dict(
            fields
                .iter()
                .map(|(key, value)| (key.as_str(), from_json(value)))
                .collect(),
        ),
    }
}

/// Where a node waits for its first configuration (not yet paired, or
/// paired but never configured).
pub(crate) fn managed_path(dir: &Path) -> PathBuf {
    dir.join(MANAGED_CONFIG_FILE)
}
