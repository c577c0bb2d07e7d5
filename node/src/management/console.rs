//! The management console: the pages and ES modules of `node/console/`,
//! compiled into the binary (`cargo build` alone builds it; nothing is
//! fetched at run time) and mounted by `ringbar management start` at `/`
//! of every web transport that serves the management realm's WebSocket.
//! The browser speaks WAMP to `/ws` like any client, as the owner who
//! logged in, so the management API's own authorization applies.

use std::sync::Arc;

use ringbar_engine::config::{
    EmbeddedFile, EmbeddedService, Endpoint, RouterConfig, TransportKind, WebService,
};
use ringbar_protocol::websocket::OriginPolicy;

/// The console's files, as the browser asks for them.
const FILES: [EmbeddedFile; 11] = [
    file(
        "index.html",
        HTML,
        include_bytes!("../../console/index.html"),
    ),
    file(
        "console.css",
        CSS,
        include_bytes!("../../console/console.css"),
    ),
    file(
        "favicon.svg",
        SVG,
        include_bytes!("../../console/favicon.svg"),
    ),
    file("dom.js", JS, include_bytes!("../../console/dom.js")),
    file("main.js", JS, include_bytes!("../../console/main.js")),
    file("wamp.js", JS, include_bytes!("../../console/wamp.js")),
    file("login.js", JS, include_bytes!("../../console/login.js")),
    file("pair.js", JS, include_bytes!("../../console/pair.js")),
    file("nodes.js", JS, include_bytes!("../../console/nodes.js")),
    file("node.js", JS, include_bytes!("../../console/node.js")),
    file("chart.js", JS, include_bytes!("../../console/chart.js")),
];

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// No inline script or style, nothing from elsewhere: the page may load
/// only its own files and open WebSockets to its own host.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Mounts the console at `/` of each web transport of `router` that
/// serves WAMP over WebSocket and has no `/` service of its own; the
/// WebSocket paths of such a transport that admit any origin (the
/// default) then admit only the console's: the same scheme and port.
/// Returns the console's URLs.
pub(crate) fn mount(router: &mut RouterConfig) -> Vec<String> {
    let mut urls = Vec::new();
    for transport in &mut router.transports {
        let (
            TransportKind::Web(web),
            Endpoint::Tcp {
                interface,
                port,
                tls,
                ..
            },
        ) = (&mut transport.kind, &transport.endpoint)
        else {
            continue;
        };
        let serves_wamp = web
            .paths
            .iter()
            .any(|(_, service)| matches!(service, WebService::WebSocket(_)));
        if !serves_wamp || web.paths.iter().any(|(name, _)| name == "/") {
            continue;
        }
        let scheme = if tls.is_some() { "https" } else { "http" };
        for (_, service) in &mut web.paths {
            if let WebService::WebSocket(ws) = service
                && ws.options.origins == OriginPolicy::default()
            {
                // The host a browser names is not known here (a name, an
                // address); a page on another port is another site.
                ws.options.origins = OriginPolicy {
                    allowed: vec![format!("{scheme}://*:{port}")],
                    allow_null: false,
                };
            }
        }
        web.paths
            .push(("/".to_owned(), WebService::Embedded(service())));
        let host = match interface {
            Some(ip) if !ip.is_unspecified() => std::net::SocketAddr::new(*ip, *port).to_string(),
            _ => format!("127.0.0.1:{port}"),
        };
        urls.push(format!("{scheme}://{host}/"));
    }
    urls
}

/// The console as a web service.
fn service() -> EmbeddedService {
    EmbeddedService {
        files: Arc::new(FILES),
        fields: Arc::new([
            (
                "Content-Security-Policy",
                CONTENT_SECURITY_POLICY.to_owned(),
            ),
            ("X-Content-Type-Options", "nosniff".to_owned()),
            ("Referrer-Policy", "no-referrer".to_owned()),
        ]),
    }
}

const fn file(path: &'static str, content_type: &'static str, body: &'static [u8]) -> EmbeddedFile {
    EmbeddedFile {
        path,
        content_type,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, Overrides};
    use crate::management::config::MANAGEMENT_CONFIG_JSON;

    #[test]
    fn every_file_of_the_console_folder_is_served() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("console");
        let mut on_disk: Vec<String> = std::fs::read_dir(folder)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        let mut served: Vec<String> = FILES.iter().map(|f| f.path.to_owned()).collect();
        on_disk.sort();
        served.sort();
        assert_eq!(on_disk, served);
    }

    #[test]
    fn the_console_is_mounted_at_the_root_and_only_its_origin_opens_the_socket() {
        let dir = std::env::temp_dir();
        let mut loaded = config::load_json(
            &dir,
            dir.join("config.json"),
            MANAGEMENT_CONFIG_JSON,
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(mount(&mut loaded.router), ["http://127.0.0.1:9000/"]);
        let TransportKind::Web(web) = &loaded.router.transports[0].kind else {
            panic!("not a web transport");
        };
        assert!(matches!(
            web.paths.iter().find(|(name, _)| name == "/"),
            Some((_, WebService::Embedded(_)))
        ));
        let Some((_, WebService::WebSocket(ws))) = web.paths.iter().find(|(name, _)| name == "ws")
        else {
            panic!("no websocket at /ws");
        };
        let origins = &ws.options.origins;
        assert!(origins.check(Some("http://127.0.0.1:9000")).is_ok());
        assert!(origins.check(Some("http://localhost:9000")).is_ok());
        assert!(origins.check(None).is_ok());
        assert!(origins.check(Some("http://127.0.0.1:9001")).is_err());
        assert!(origins.check(Some("https://127.0.0.1:9000")).is_err());
        assert!(origins.check(Some("null")).is_err());
        // mounted once: a transport with a root service keeps it
        assert!(mount(&mut loaded.router).is_empty());
    }
}
