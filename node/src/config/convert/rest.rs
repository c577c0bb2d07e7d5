//! The REST bridge's path services of a web transport (`publisher`,
//! `caller`, `webhook`), with Crossbar.io's keys and limits; each acts as
//! a session of `role` on `realm`, both checked against the router's
//! realms once they are all read.

use ringbar_engine::config::{
    DEFAULT_CALL_TIMEOUT_MS, DEFAULT_MAX_NONCES, DEFAULT_TIMESTAMP_DELTA_LIMIT_S, IpNetwork,
    RealmConfig, RestOptions, RestService, RestSigning, SeenNonces, WebService, WebhookService,
};
use serde::Deserialize;
use serde_json::Value;

use super::Converter;
use crate::config::diag::Path;
use crate::config::read::{Accept, read_with};

/// The keys every path service object has.
const SERVICE_KEYS: &[&str] = &["type", "id"];

/// Crossbar.io's largest `post_body_limit`: 1 MiB.
const MAX_POST_BODY_LIMIT: i64 = 1 << 20;

/// Crossbar.io's largest `timestamp_delta_limit`: a day, in seconds.
const MAX_TIMESTAMP_DELTA_LIMIT_S: i64 = 86_400;

/// The most nonces a signed service may remember (an estimated 16–32
/// bytes each).
const MAX_MAX_NONCES: i64 = 50_000_000;

/// The longest `timeout` of a caller: a day, in ms.
const MAX_CALL_TIMEOUT_MS: i64 = 86_400_000;

/// A `publisher` or `caller` service.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a publisher or caller path service object")]
struct RestFile {
    /// `realm`: where it publishes or calls.
    realm: String,
    /// `role`: whose permissions apply.
    role: String,
    /// `options`.
    #[serde(default)]
    options: Option<RestOptionsFile>,
}

/// A `publisher` or `caller` service's `options`.
#[derive(Debug, Default, Deserialize)]
#[serde(expecting = "publisher or caller options")]
struct RestOptionsFile {
    #[serde(default)]
    debug: Option<bool>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    require_tls: Option<bool>,
    #[serde(default)]
    require_ip: Option<Vec<String>>,
    #[serde(default)]
    post_body_limit: Option<i64>,
    #[serde(default)]
    timestamp_delta_limit: Option<i64>,
    /// ringbar: a caller's default timeout, ms.
    #[serde(default)]
    timeout: Option<i64>,
    /// ringbar: how many nonces of signed requests are remembered.
    #[serde(default)]
    max_nonces: Option<i64>,
}

/// A `webhook` service.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a webhook path service object")]
struct WebhookFile {
    realm: String,
    role: String,
    options: WebhookOptionsFile,
}

/// A `webhook` service's `options`.
#[derive(Debug, Deserialize)]
#[serde(expecting = "webhook options")]
struct WebhookOptionsFile {
    #[serde(default)]
    debug: Option<bool>,
    #[serde(default)]
    post_body_limit: Option<i64>,
    #[serde(default)]
    topic: Option<String>,
    #[serde(default)]
    success_response: Option<String>,
    #[serde(default)]
    error_response: Option<String>,
    #[serde(default)]
    github_secret: Option<String>,
}

impl Converter<'_> {
    /// A `publisher` or `caller` service (`kind`).
    pub(super) fn rest_service(
        &mut self,
        kind: &str,
        value: &Value,
        path: &Path,
    ) -> Option<WebService> {
        let file: RestFile = read_with(value, path, self.diag, Accept::silent(SERVICE_KEYS))?;
        let options = file.options.unwrap_or_default();
        let options_path = path.key("options");
        if kind == "publisher" && options.timeout.is_some() {
            self.diag.error(
                &options_path.key("timeout"),
                "only a caller has a timeout: remove it here",
            );
            return None;
        }
        let call_timeout_ms = match options.timeout {
            None => DEFAULT_CALL_TIMEOUT_MS,
            Some(ms) => {
                self.option_in_range(ms, 1, MAX_CALL_TIMEOUT_MS, "timeout", "ms", &options_path)?
            }
        };
        let max_nonces = match options.max_nonces {
            None => DEFAULT_MAX_NONCES,
            Some(n) => {
                let n = self.option_in_range(
                    n,
                    1,
                    MAX_MAX_NONCES,
                    "max_nonces",
                    "nonces",
                    &options_path,
                )?;
                usize::try_from(n).ok()?
            }
        };
        let signing = self.signing(options.key, options.secret, max_nonces, &options_path)?;
        let mut require_ip = Vec::new();
        for (index, text) in options.require_ip.unwrap_or_default().iter().enumerate() {
            match IpNetwork::parse(text) {
                Ok(network) => require_ip.push(network),
                Err(e) => self
                    .diag
                    .error(&options_path.key("require_ip").index(index), e),
            }
        }
        let timestamp_delta_limit_s = match options.timestamp_delta_limit {
            None => DEFAULT_TIMESTAMP_DELTA_LIMIT_S,
            Some(s) => self.option_in_range(
                s,
                0,
                MAX_TIMESTAMP_DELTA_LIMIT_S,
                "timestamp_delta_limit",
                "seconds; 0: any",
                &options_path,
            )?,
        };
        let rest = RestService {
            realm: file.realm,
            role: file.role,
            options: RestOptions {
                signing,
                require_tls: options.require_tls.unwrap_or(false),
                require_ip,
                post_body_limit_bytes: self
                    .post_body_limit(options.post_body_limit, &options_path)?,
                timestamp_delta_limit_s,
                debug: options.debug.unwrap_or(false),
            },
            call_timeout_ms,
        };
        self.rest_sessions
            .push((path.clone(), rest.realm.clone(), rest.role.clone()));
        Some(if kind == "caller" {
            WebService::Caller(rest)
        } else {
            WebService::Publisher(rest)
        })
    }

    /// A `webhook` service.
    pub(super) fn webhook_service(&mut self, value: &Value, path: &Path) -> Option<WebService> {
        let file: WebhookFile = read_with(value, path, self.diag, Accept::silent(SERVICE_KEYS))?;
        let options = file.options;
        let options_path = path.key("options");
        let Some(topic) = options.topic else {
            self.diag.error(
                &options_path,
                "missing \"topic\": the topic the webhook's events are published to",
            );
            return None;
        };
        let rest = RestService {
            realm: file.realm,
            role: file.role,
            options: RestOptions {
                post_body_limit_bytes: self
                    .post_body_limit(options.post_body_limit, &options_path)?,
                timestamp_delta_limit_s: DEFAULT_TIMESTAMP_DELTA_LIMIT_S,
                debug: options.debug.unwrap_or(false),
                ..RestOptions::default()
            },
            call_timeout_ms: DEFAULT_CALL_TIMEOUT_MS,
        };
        self.rest_sessions
            .push((path.clone(), rest.realm.clone(), rest.role.clone()));
        Some(WebService::Webhook(WebhookService {
            rest,
            topic,
            success_response: options.success_response.unwrap_or_else(|| "OK".into()),
            error_response: options.error_response.unwrap_or_else(|| "NOT OK".into()),
            github_secret: options.github_secret.filter(|s| !s.is_empty()),
        }))
    }

    /// Refuses REST services whose realm or role the router lacks.
    pub(super) fn check_rest_sessions(&mut self, realms: &[RealmConfig]) {
        for (path, realm, role) in std::mem::take(&mut self.rest_sessions) {
            match realms.iter().find(|r| r.name == realm) {
                None => self.diag.error(
                    &path.key("realm"),
                    format!("realm \"{realm}\" is not defined: the service acts as a session there; add the realm or name another"),
                ),
                Some(r) if !r.roles.iter().any(|r| r.name == role) => self.diag.error(
                    &path.key("role"),
                    format!("role \"{role}\" is not defined in realm \"{realm}\": the service acts as a session of it; add the role or name another"),
                ),
                Some(_) => {}
            }
        }
    }

    /// `key` and `secret`: both, or neither.
    fn signing(
        &mut self,
        key: Option<String>,
        secret: Option<String>,
        max_nonces: usize,
        path: &Path,
    ) -> Option<Option<RestSigning>> {
        match (key, secret) {
            (Some(key), Some(secret)) => Some(Some(RestSigning {
                key,
                secret,
                seen: SeenNonces::new(max_nonces),
            })),
            (None, None) => Some(None),
            (Some(_), None) => {
                self.diag.error(
                    &path.key("key"),
                    "a key without a secret: add \"secret\" so requests are signed, or remove \"key\"",
                );
                None
            }
            (None, Some(_)) => {
                self.diag.error(
                    &path.key("secret"),
                    "a secret without a key: add the \"key\" signed requests name",
                );
                None
            }
        }
    }

    /// `post_body_limit`, bytes (0: the transport's own limit).
    fn post_body_limit(&mut self, limit: Option<i64>, path: &Path) -> Option<usize> {
        let bytes = self.option_in_range(
            limit.unwrap_or(0),
            0,
            MAX_POST_BODY_LIMIT,
            "post_body_limit",
            "bytes; 0: the web transport's limit",
            path,
        )?;
        usize::try_from(bytes).ok()
    }

    /// `options.<name>` within `min..=max`.
    fn option_in_range(
        &mut self,
        value: i64,
        min: i64,
        max: i64,
        name: &str,
        unit: &str,
        path: &Path,
    ) -> Option<u64> {
        if (min..=max).contains(&value) {
            return u64::try_from(value).ok();
        }
        self.diag.error(
            &path.key(name),
            format!("{value} is out of range ({min}-{max} {unit})"),
        );
        None
    }
}
