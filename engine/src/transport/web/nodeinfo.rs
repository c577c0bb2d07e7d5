//! The `nodeinfo` service: a small page describing the node.

use super::service::HttpResponse;
use super::static_files::escape_html;
use ringbar_router::core::Core;

/// The page: version, realms, sessions per core.
pub(super) fn respond(core: &Core) -> HttpResponse {
    let sessions: Vec<String> = core
        .shared
        .figures
        .iter()
        .enumerate()
        .map(|(i, n)| format!("<li>core {i}: {} sessions</li>", n.sessions.get()))
        .collect();
    let page = format!(
        "<!doctype html><html><head><title>ringbar</title></head><body><h1>ringbar {}</h1>\
         <p>WAMP router node. Realms: {}.</p><ul>{}</ul></body></html>",
        env!("CARGO_PKG_VERSION"),
        escape_html(&core.shared.realms.names().join(", ")),
        sessions.join("")
    );
    HttpResponse::new(200, "text/html; charset=utf-8", page)
}
