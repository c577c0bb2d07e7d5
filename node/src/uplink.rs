//! The node's uplink to its management service (`ringbar.management`):
//! a WAMP session on the management realm, authenticated with the
//! instance key (WAMP-cryptosign), on a thread of its own.
//!
//! ```text
//!  join ──► the service proves its key (router authentication, bound to
//!      │    the TLS channel on wss://): the pinned one, or any while none
//!      │    is pinned; else refused with both keys named
//!      ├──► role "pairing": activation code (a new one when it expires)
//!      │      └─ on_paired ──► "Instance paired. Owner is 'NAME'." ──► the
//!      │         service's key is pinned (trust on first use) ──► join again
//!      └──► role "node": get_config ──► check, cache in DIR/managed-config.json
//!             ├─ first config ──► the node starts routing with it
//!             ├─ on_config ──► checked, cached, and the node starts again with it
//!             └─ every second: report_status (what `ringbar status` shows)
//!  unreachable or dropped ──► retry after 1 s doubling to 30 s, with jitter
//! ```
//!
//! The router never waits for the uplink once it runs: a paired node keeps
//! routing with its cached config while the service is away.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use ringbar_client::{
    Credentials, Dict, Error, Incoming, JoinOptions, RouterKey, Session, TlsRoots, Url, Value,
};

use crate::config::Overrides;
use crate::config::uplink::Uplink as UplinkConfig;
use crate::control;
use crate::key::pinned::{self, MANAGEMENT_KEY_FILE};
use crate::managed;
use crate::management::MANAGEMENT_REALM;

/// The first wait before joining again.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest wait before joining again.
const MAX_RETRY: Duration = Duration::from_secs(30);
/// How often a paired node reports its status: every second, for the
/// console's live charts.
const STATUS_PERIOD: Duration = Duration::from_secs(1);
/// How soon a report is tried again when the router did not answer yet.
const STATUS_RETRY: Duration = Duration::from_secs(1);

const ACTIVATION_CODE: &str = "ringbar.management.pairing.activation_code";
const ON_PAIRED: &str = "ringbar.management.pairing.on_paired";
const GET_CONFIG: &str = "ringbar.management.node.get_config";
const REPORT_STATUS: &str = "ringbar.management.node.report_status";
const ON_CONFIG: &str = "ringbar.management.node.on_config";

/// The cached configuration of `dir`, when the node was configured before.
pub(crate) fn cached(dir: &Path) -> Option<String> {
    std::fs::read_to_string(managed::path(dir)).ok()
}

/// Starts the uplink of the node `dir` to the service of `config`. Every
/// configuration the service sends, checked and cached, arrives on the
/// receiver: the first one when `configured` is false (the node waits for
/// it), later ones to reconfigure the running node. Fails when the pinned
/// key or the CA files cannot be read.
pub(crate) fn spawn(
    dir: &Path,
    config: &UplinkConfig,
    key: SigningKey,
    configured: bool,
) -> Result<Receiver<String>, String> {
    let url = Url::parse(&config.url).map_err(|e| format!("ringbar.management.url: {e}"))?;
    let pinned = pinned::load(dir).map_err(|e| format!("management service key: {e}"))?;
    let roots = match (url.tls, config.ca_certificates.is_empty()) {
        (false, _) => None,
        (true, true) => Some(TlsRoots::system()),
        (true, false) => Some(TlsRoots::from_ca_files(&config.ca_certificates)),
    }
    .transpose()
    .map_err(|e| format!("ringbar.management: {e}"))?;
    if !url.tls && !url.is_loopback() {
        tracing::warn!(
            "The uplink to {url} is plain ws:// across a network: configurations travel in clear text and a relay on the path can read and change them; use wss://."
        );
    }
    tracing::info!("Starting management service.");
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    let mut uplink = Uplink {
        dir: dir.to_path_buf(),
        current: cached(dir),
        configured,
        sender,
        pinned,
        roots,
    };
    crate::session_thread::spawn("uplink", move || async move {
        uplink.run(&url, key).await;
    })
    .map_err(|e| format!("cannot start the uplink: {e}"))?;
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
    /// The management service's key this node trusts, once known.
    pinned: Option<[u8; 32]>,
    /// What vouches for a `wss://` service's certificate.
    roots: Option<TlsRoots>,
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
                    self.log_failure(url, &error, connected, wait);
                    tokio::time::sleep(wait).await;
                    retry = (retry * 2).min(MAX_RETRY);
                }
            }
        }
    }

    /// One line for a session that failed: a service that did not prove
    /// the key this node trusts is refused with both keys and the fix.
    fn log_failure(&self, url: &Url, error: &Error, connected: bool, wait: Duration) {
        let secs = wait.as_secs_f64();
        let pin = self.dir.join(MANAGEMENT_KEY_FILE);
        match error {
            Error::RouterKeyMismatch {
                expected, offered, ..
            } => tracing::error!(
                "Refusing the management service at {url}: it proved the key {offered}, but this node trusts {expected} ({}). If the service's key changed on purpose, put the new key in that file (or delete the file: the node then trusts the next service it joins) and restart the node; the node keeps routing; retrying in {secs:.1} s.",
                pin.display()
            ),
            Error::RouterNotProven { reason, .. } => {
                let expected = self
                    .pinned
                    .map_or_else(|| "any key (none pinned yet)".to_owned(), hex::encode);
                tracing::error!(
                    "Refusing the management service at {url}: it did not prove that it holds the key this node trusts, {expected}: {reason}. Check ringbar.management.url (is it a ringbar management service?); the node keeps routing; retrying in {secs:.1} s."
                );
            }
            _ => {
                let state = if connected { "lost" } else { "unreachable" };
                tracing::warn!(
                    "Management service at {url} {state} ({error}); the node keeps routing; retrying in {secs:.1} s."
                );
            }
        }
    }

    async fn session(
        &mut self,
        url: &Url,
        credentials: &Credentials,
        connected: &mut bool,
    ) -> Result<Ended, Error> {
        let options = JoinOptions {
            roots: self.roots.clone(),
            router_key: self.pinned.map_or(RouterKey::Any, RouterKey::Pinned),
            ..JoinOptions::default()
        };
        let session = Session::join_with(url, MANAGEMENT_REALM, credentials, &options).await?;
        *connected = true;
        let proved = session.router_key().unwrap_or_default();
        tracing::info!("Connected to management service at {url}.");
        tracing::debug!(
            "The management service proved the key {}.",
            hex::encode(proved)
        );
        match session.authrole() {
            "pairing" => self.pairing(session, url, proved).await,
            "node" => {
                self.pin(url, proved, "when it first served this paired node");
                self.managed(session).await
            }
            other => Err(Error::Protocol(format!(
                "the management service gave this node the role '{other}' (expected 'pairing' or 'node')"
            ))),
        }
    }

    /// Pins `key`, which the service at `url` proved, when no key is
    /// pinned yet (trust on first use), and says so.
    fn pin(&mut self, url: &Url, key: [u8; 32], when: &str) {
        if self.pinned.is_some() {
            return;
        }
        match pinned::store(&self.dir, key, &format!("learned from {url} {when}")) {
            Ok(path) => tracing::info!(
                "Management service key {} pinned in {} (trust on first use): from now on this node joins only a service that proves it.",
                hex::encode(key),
                path.display()
            ),
            Err(error) => tracing::warn!(
                "cannot pin the management service key {}: {error}; it is trusted until the node stops",
                hex::encode(key)
            ),
        }
        self.pinned = Some(key);
    }

    /// Not paired: show activation codes until an owner pairs the node.
    async fn pairing(
        &mut self,
        mut session: Session,
        url: &Url,
        proved: [u8; 32],
    ) -> Result<Ended, Error> {
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
            tracing::info!(
                "Log into {} to configure your instance using the activation code: {code}",
                console_url(url)
            );
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
                            self.pin(url, proved, "at its first pairing");
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
        // The service may send the same configuration spelled otherwise
        // (it stores JSON values, not text): only a change reconfigures.
        let same = |current: &str| {
            serde_json::from_str::<serde_json::Value>(current).ok()
                == serde_json::from_str::<serde_json::Value>(text).ok()
        };
        if self.current.as_deref().is_some_and(same) {
            return;
        }
        let path = managed::path(&self.dir);
        if let Err(error) = managed::load(&self.dir, text, Overrides::default()) {
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
                "New configuration from the management service cached in {}.",
                path.display()
            );
        }
        // A full channel holds one not taken yet: the node acts on that
        // one, and starting again reads the newest from the cache.
        match self.sender.try_send(text.to_owned()) {
            Ok(()) | Err(TrySendError::Full(_)) => self.configured = true,
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

/// The management console of the service at `url`: the same host and
/// port over HTTP(S), at `/`.
fn console_url(url: &Url) -> String {
    let scheme = if url.tls { "https" } else { "http" };
    let host = if url.host.contains(':') {
        format!("[{}]", url.host)
    } else {
        url.host.clone()
    };
    format!("{scheme}://{host}:{}/", url.port)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_is_the_service_s_host_and_port_over_http() {
        let console = |url: &str| console_url(&Url::parse(url).unwrap());
        assert_eq!(console("ws://127.0.0.1:9000/ws"), "http://127.0.0.1:9000/");
        assert_eq!(
            console("wss://manage.example.com/ws"),
            "https://manage.example.com:443/"
        );
        assert_eq!(console("ws://[::1]:9000/ws"), "http://[::1]:9000/");
    }
}
