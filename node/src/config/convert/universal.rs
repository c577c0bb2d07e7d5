//! `universal` transports: one endpoint for a `rawsocket`, `websocket`
//! paths and a `web` service, as Crossbar.io's unisocket serves them.

use ringbar_engine::config::{
    TransportKind, UniversalTransport, WebOptions, WebService, WebTransport,
};
use serde_json::Value;

use super::{Converter, PendingTransport};
use crate::config::diag::Path;
use crate::config::file::{RawSocketFile, UniversalFile, WebFile};
use crate::config::read::{Accept, read_with};

impl Converter<'_> {
    /// A `universal` transport.
    pub(super) fn universal_transport(
        &mut self,
        value: &Value,
        path: &Path,
    ) -> Option<PendingTransport> {
        let file: UniversalFile = read_with(
            value,
            path,
            self.diag,
            Accept::silent(&["type", "mqtt", "max_connections"]),
        )?;
        if value.get("mqtt").is_some() {
            self.diag.error(
                &path.key("mqtt"),
                "MQTT is not supported yet: remove \"mqtt\" from the universal transport",
            );
        }
        let errors_before = self.diag.error_count();
        let id = self.check_id(file.id.clone(), path);
        let endpoint = self.endpoint(&file.endpoint, &path.key("endpoint"));
        let rawsocket = file
            .rawsocket
            .as_ref()
            .and_then(|value| self.universal_rawsocket(value, &path.key("rawsocket")));
        let mut paths = Vec::new();
        for (name, value) in file.websocket.iter().flatten() {
            let at = path.key("websocket").key(name);
            if !self.check_web_path(name, &at) {
                continue;
            }
            let websocket = self
                .websocket_without_endpoint(value, &at)
                .and_then(|file| self.websocket(file, &at));
            if let Some(websocket) = websocket {
                paths.push((name.clone(), WebService::WebSocket(websocket)));
            }
        }
        let web = match &file.web {
            Some(value) => self.universal_web(value, &path.key("web")),
            None => Some(WebTransport {
                paths: Vec::new(),
                options: WebOptions::default(),
            }),
        };
        if self.diag.error_count() != errors_before {
            return None;
        }
        let mut web = web?;
        // The websocket paths come first, as Crossbar.io looks them up
        // before the web service's.
        for (name, _) in &web.paths {
            if paths.iter().any(|(p, _)| p == name) {
                self.diag.warn(
                    &path.key("web").key("paths").key(name),
                    format!("never reached: the websocket path \"{name}\" answers it"),
                );
            }
        }
        web.paths
            .retain(|(name, _)| !paths.iter().any(|(p, _)| p == name));
        paths.append(&mut web.paths);
        web.paths = paths;
        Some(PendingTransport {
            id,
            endpoint: endpoint?,
            kind: TransportKind::Universal(UniversalTransport { rawsocket, web }),
        })
    }

    fn universal_rawsocket(
        &mut self,
        value: &Value,
        path: &Path,
    ) -> Option<ringbar_engine::config::RawSocketTransport> {
        let file: RawSocketFile = read_with(
            value,
            path,
            self.diag,
            Accept::silent(&["type", "debug", "id"]),
        )?;
        if file.endpoint.is_some() {
            self.no_endpoint_here(path);
            return None;
        }
        self.rawsocket(&file, path)
    }

    fn universal_web(&mut self, value: &Value, path: &Path) -> Option<WebTransport> {
        let file: WebFile = read_with(value, path, self.diag, Accept::silent(&["type", "id"]))?;
        if file.endpoint.is_some() {
            self.no_endpoint_here(path);
            return None;
        }
        self.web(&file, path)
    }

    fn no_endpoint_here(&mut self, path: &Path) {
        self.diag.error(
            &path.key("endpoint"),
            "not allowed here: the universal transport's own endpoint serves it",
        );
    }
}
