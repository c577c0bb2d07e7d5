//! `web` transports: HTTP options and services on paths, nested `path`
//! services included.

use std::collections::BTreeMap;
use std::path::{Component, PathBuf};

use ringbar_engine::config::{
    JsonService, StaticService, TransportKind, WebOptions, WebPaths, WebService, WebTransport,
};
use serde_json::{Map, Value};

use super::{Converter, PendingTransport};
use crate::config::diag::Path;
use crate::config::file::{
    JsonFile, NestedPathFile, NoFields, RedirectFile, StaticFile, WebFile, WebOptionsFile,
    WebSocketFile,
};
use crate::config::read::{Accept, read_with, type_tag};

/// The path services ringbar serves.
const SERVICES: &str =
    "websocket, static, nodeinfo, json, redirect, path, publisher, caller, webhook";

/// Crossbar.io's web transport options that ringbar has no use for.
const IGNORED_WEB_OPTIONS: &[&str] = &["display_tracebacks"];

/// Crossbar.io's `cache_timeout` when a static service says nothing: 12 h.
const DEFAULT_CACHE_TIMEOUT_S: u64 = 12 * 60 * 60;

/// Crossbar.io's `hsts_max_age` when `hsts` is on and it says nothing: a
/// year.
const DEFAULT_HSTS_MAX_AGE_S: u64 = 365 * 24 * 60 * 60;

/// The longest `client_timeout` Crossbar.io accepts, seconds (a day).
const MAX_CLIENT_TIMEOUT_S: i64 = 24 * 60 * 60;

/// The keys of a path service object that every type has.
const SERVICE_KEYS: &[&str] = &["type", "id"];

impl Converter<'_> {
    /// A `web` transport.
    pub(super) fn web_transport(&mut self, value: &Value, path: &Path) -> Option<PendingTransport> {
        let file: WebFile = read_with(
            value,
            path,
            self.diag,
            Accept::silent(&["type", "max_connections"]),
        )?;
        let id = self.check_id(file.id.clone(), path);
        let endpoint = self.required_endpoint(file.endpoint.as_ref(), path);
        let web = self.web(&file, path);
        Some(PendingTransport {
            id,
            endpoint: endpoint?,
            kind: TransportKind::Web(web?),
        })
    }

    /// The `options` and `paths` of a web transport, or of a universal
    /// transport's `web`.
    pub(super) fn web(&mut self, file: &WebFile, path: &Path) -> Option<WebTransport> {
        let errors_before = self.diag.error_count();
        let options = self.web_options(file.options.as_ref(), &path.key("options"));
        let paths = self.web_paths(&file.paths, &path.key("paths"));
        if self.diag.error_count() != errors_before {
            return None;
        }
        Some(WebTransport {
            paths,
            options: options?,
        })
    }

    fn web_options(&mut self, value: Option<&Value>, path: &Path) -> Option<WebOptions> {
        let mut options = WebOptions::default();
        let Some(value) = value else {
            return Some(options);
        };
        let accept = Accept {
            silent: &[],
            ignored: IGNORED_WEB_OPTIONS,
            ignored_message: "web option not used by ringbar, ignored",
        };
        let file: WebOptionsFile = read_with(value, path, self.diag, accept)?;
        options.access_log = file.access_log.unwrap_or(false);
        if let Some(seconds) = file.client_timeout {
            if !(1..=MAX_CLIENT_TIMEOUT_S).contains(&seconds) {
                self.diag.error(
                    &path.key("client_timeout"),
                    format!("{seconds} is not a client timeout (1-{MAX_CLIENT_TIMEOUT_S} seconds)"),
                );
                return None;
            }
            options.client_timeout_ms = seconds.unsigned_abs() * 1000;
        }
        if file.hsts == Some(true) {
            options.hsts_max_age_s = match file.hsts_max_age {
                None => Some(DEFAULT_HSTS_MAX_AGE_S),
                Some(age) if age >= 0 => Some(age.unsigned_abs()),
                Some(age) => {
                    self.diag.error(
                        &path.key("hsts_max_age"),
                        format!("{age} is not a max-age (0 or more seconds)"),
                    );
                    return None;
                }
            };
        }
        Some(options)
    }

    /// The services of `paths`; the bad ones are reported and left out.
    pub(super) fn web_paths(&mut self, paths: &Map<String, Value>, path: &Path) -> WebPaths {
        let mut services = Vec::with_capacity(paths.len());
        for (name, service) in paths {
            let service_path = path.key(name);
            if !self.check_web_path(name, &service_path) {
                continue;
            }
            if let Some(service) = self.web_service(service, &service_path) {
                services.push((name.clone(), service));
            }
        }
        services
    }

    /// Crossbar.io's rule for a key of `paths`: `/`, or one segment.
    pub(super) fn check_web_path(&mut self, name: &str, path: &Path) -> bool {
        let valid = name == "/"
            || (!name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
        if !valid {
            self.diag.error(
                path,
                format!("\"{name}\" is not a web path (\"/\", or one segment of letters, digits, _ and -)"),
            );
        }
        valid
    }

    fn web_service(&mut self, value: &Value, path: &Path) -> Option<WebService> {
        match type_tag(value, path, "path service", SERVICES, self.diag)? {
            "websocket" => {
                let file = self.websocket_without_endpoint(value, path)?;
                self.websocket(file, path).map(WebService::WebSocket)
            }
            "static" => self.static_service(value, path),
            "nodeinfo" => {
                let _: NoFields = read_with(value, path, self.diag, Accept::silent(SERVICE_KEYS))?;
                Some(WebService::NodeInfo)
            }
            "json" => self.json_service(value, path),
            kind @ ("publisher" | "caller") => self.rest_service(kind, value, path),
            "webhook" => self.webhook_service(value, path),
            "redirect" => {
                let file: RedirectFile =
                    read_with(value, path, self.diag, Accept::silent(SERVICE_KEYS))?;
                let url = self.header_value(file.url, "URL", &path.key("url"))?;
                Some(WebService::Redirect { url })
            }
            "path" => {
                let file: NestedPathFile =
                    read_with(value, path, self.diag, Accept::silent(SERVICE_KEYS))?;
                Some(WebService::Path(
                    self.web_paths(&file.paths, &path.key("paths")),
                ))
            }
            other => {
                self.diag.error(
                    &path.key("type"),
                    format!("\"{other}\" is not supported yet ({SERVICES})"),
                );
                None
            }
        }
    }

    /// A websocket object that listens on its transport's endpoint (a web
    /// path, a universal transport's websocket path).
    pub(super) fn websocket_without_endpoint(
        &mut self,
        value: &Value,
        path: &Path,
    ) -> Option<WebSocketFile> {
        let accept = Accept::silent(&["type", "id", "url", "debug"]);
        let file: WebSocketFile = read_with(value, path, self.diag, accept)?;
        if file.endpoint.is_some() {
            self.diag.warn(
                &path.key("endpoint"),
                "unknown key, ignored (a path service listens on its transport's endpoint)",
            );
        }
        Some(file)
    }

    fn static_service(&mut self, value: &Value, path: &Path) -> Option<WebService> {
        let file: StaticFile = read_with(value, path, self.diag, Accept::silent(SERVICE_KEYS))?;
        if file.package.is_some() || file.resource.is_some() {
            self.diag.error(
                path,
                "serving files from a Python package (\"package\", \"resource\") is not supported: give a \"directory\"",
            );
            return None;
        }
        let Some(directory) = file.directory else {
            self.diag.error(
                path,
                "missing \"directory\": the folder to serve, relative to the node directory",
            );
            return None;
        };
        let directory = self.dir.join(directory);
        if !directory.is_dir() {
            self.diag.warn(
                &path.key("directory"),
                format!(
                    "{} is not a directory: this path answers 404 until it is",
                    directory.display()
                ),
            );
        }
        let options = file.options.unwrap_or_default();
        let path = path.key("options");
        let cache_timeout_s = match options.cache_timeout {
            None => Some(DEFAULT_CACHE_TIMEOUT_S),
            Some(Value::Null) => None,
            Some(value) => match value.as_u64() {
                Some(seconds) => Some(seconds),
                None => {
                    self.diag.error(
                        &path.key("cache_timeout"),
                        format!("{value} is not a cache timeout (0 or more seconds, or null)"),
                    );
                    return None;
                }
            },
        };
        let mime_types = self.mime_types(options.mime_types.unwrap_or_default(), &path)?;
        let default_file = match options.default_file {
            Some(name) => Some(self.file_below(name, &path.key("default_file"))?),
            None => None,
        };
        Some(WebService::Static(StaticService {
            directory,
            enable_directory_listing: options.enable_directory_listing.unwrap_or(false),
            mime_types,
            cache_timeout_s,
            default_file,
        }))
    }

    /// `mime_types`: `.ext` keys (matched without case), content types
    /// that fit a header field.
    fn mime_types(
        &mut self,
        types: BTreeMap<String, String>,
        path: &Path,
    ) -> Option<BTreeMap<String, String>> {
        let errors_before = self.diag.error_count();
        let mut checked = BTreeMap::new();
        for (extension, content_type) in types {
            let at = path.key("mime_types").key(&extension);
            if !extension.starts_with('.') || extension.len() < 2 {
                self.diag.error(
                    &at,
                    format!("\"{extension}\" is not a file extension (a dot, then the extension: \".svg\")"),
                );
                continue;
            }
            if let Some(content_type) = self.header_value(content_type, "content type", &at) {
                checked.insert(extension.to_ascii_lowercase(), content_type);
            }
        }
        (self.diag.error_count() == errors_before).then_some(checked)
    }

    /// A file name relative to a static directory, that stays inside it.
    fn file_below(&mut self, name: String, path: &Path) -> Option<PathBuf> {
        let file = PathBuf::from(&name);
        if name.is_empty() || !file.components().all(|c| matches!(c, Component::Normal(_))) {
            self.diag.error(
                path,
                format!(
                    "\"{name}\" is not a file inside the directory (a relative path without ..)"
                ),
            );
            return None;
        }
        Some(file)
    }

    /// `value` as a response field value: printable ASCII only, so config
    /// text cannot break the response head.
    fn header_value(&mut self, value: String, what: &str, path: &Path) -> Option<String> {
        if value.is_empty() || !value.bytes().all(|b| (b' '..=b'~').contains(&b)) {
            self.diag.error(
                path,
                format!("{value:?} is not a {what} (printable ASCII, no control characters)"),
            );
            return None;
        }
        Some(value)
    }

    fn json_service(&mut self, value: &Value, path: &Path) -> Option<WebService> {
        let file: JsonFile = read_with(value, path, self.diag, Accept::silent(SERVICE_KEYS))?;
        let options = file.options.unwrap_or_default();
        let document = if options.prettify.unwrap_or(false) {
            serde_json::to_vec_pretty(&file.value)
        } else {
            serde_json::to_vec(&file.value)
        };
        let document = match document {
            Ok(document) => document,
            Err(e) => {
                self.diag.error(
                    &path.key("value"),
                    format!("cannot be written as JSON: {e}"),
                );
                return None;
            }
        };
        Some(WebService::Json(JsonService {
            document: document.into(),
            allow_cross_origin: options.allow_cross_origin.unwrap_or(true),
            discourage_caching: options.discourage_caching.unwrap_or(false),
        }))
    }
}
