//! `web` transports: services on paths.

use ringbar_engine::config::{TransportKind, WebService, WebTransport};
use serde_json::Value;

use super::{Converter, PendingTransport};
use crate::config::diag::Path;
use crate::config::file::{NoFields, StaticFile, WebFile, WebSocketFile};
use crate::config::read::{Accept, read_with, type_tag};

/// The path services ringbar serves.
const SERVICES: &str = "websocket, static, nodeinfo";

/// Crossbar.io's web transport options, none used yet.
const IGNORED_WEB_OPTIONS: &[&str] = &[
    "access_log",
    "display_tracebacks",
    "hsts",
    "hsts_max_age",
    "client_timeout",
];

/// Crossbar.io's static service options, none used yet.
const IGNORED_STATIC_OPTIONS: &[&str] = &[
    "enable_directory_listing",
    "mime_types",
    "cache_timeout",
    "default_file",
];

impl Converter<'_> {
    /// A `web` transport.
    pub(super) fn web_transport(&mut self, value: &Value, path: &Path) -> Option<PendingTransport> {
        let file: WebFile = read_with(
            value,
            path,
            self.diag,
            Accept::silent(&["type", "max_connections"]),
        )?;
        let errors_before = self.diag.error_count();
        let id = self.check_id(file.id.clone(), path);
        let endpoint = self.endpoint(&file.endpoint, &path.key("endpoint"));
        if let Some(options) = &file.options {
            let accept = Accept {
                silent: &[],
                ignored: IGNORED_WEB_OPTIONS,
                ignored_message: "web option not supported yet, ignored",
            };
            let _: Option<NoFields> = read_with(options, &path.key("options"), self.diag, accept);
        }
        let mut paths = Vec::with_capacity(file.paths.len());
        for (name, service) in &file.paths {
            let service_path = path.key("paths").key(name);
            if !is_web_path(name) {
                self.diag.error(
                    &service_path,
                    format!("\"{name}\" is not a web path (\"/\", or one segment of letters, digits, _ and -)"),
                );
                continue;
            }
            if let Some(service) = self.web_service(service, &service_path) {
                paths.push((name.clone(), service));
            }
        }
        if self.diag.error_count() != errors_before {
            return None;
        }
        Some(PendingTransport {
            id,
            endpoint: endpoint?,
            kind: TransportKind::Web(WebTransport { paths }),
        })
    }

    fn web_service(&mut self, value: &Value, path: &Path) -> Option<WebService> {
        match type_tag(value, path, "path service", SERVICES, self.diag)? {
            "websocket" => {
                let accept = Accept::silent(&["type", "id", "url", "debug"]);
                let file: WebSocketFile = read_with(value, path, self.diag, accept)?;
                if file.endpoint.is_some() {
                    self.diag.warn(
                        &path.key("endpoint"),
                        "unknown key, ignored (a path service listens on its transport's endpoint)",
                    );
                }
                self.websocket(file, path).map(WebService::WebSocket)
            }
            "static" => self.static_service(value, path),
            "nodeinfo" => {
                let _: NoFields =
                    read_with(value, path, self.diag, Accept::silent(&["type", "id"]))?;
                Some(WebService::NodeInfo)
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

    fn static_service(&mut self, value: &Value, path: &Path) -> Option<WebService> {
        let file: StaticFile = read_with(value, path, self.diag, Accept::silent(&["type", "id"]))?;
        if let Some(options) = &file.options {
            let accept = Accept {
                silent: &[],
                ignored: IGNORED_STATIC_OPTIONS,
                ignored_message: "static option not supported yet, ignored",
            };
            let _: Option<NoFields> = read_with(options, &path.key("options"), self.diag, accept);
        }
        if file.package.is_some() || file.resource.is_some() {
            self.diag.error(
                path,
                "serving files from a Python package (\"package\", \"resource\") is not supported yet: give a \"directory\"",
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
        Some(WebService::Static { directory })
    }
}

/// Crossbar.io's rule for a key of `paths`: `/`, or one segment.
fn is_web_path(path: &str) -> bool {
    path == "/"
        || (!path.is_empty()
            && path
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
}
