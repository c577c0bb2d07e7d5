//! A `web` transport: one HTTP port whose paths serve WAMP-over-WebSocket,
//! static files, or node information, as Crossbar.io's web transport does.

use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use ringbar_protocol::websocket::handshake;

use super::{http, websocket};
use crate::config::{WebService, WebSocketOptions, WebTransport};
use crate::core::Core;
use crate::runtime::io::{Peer, Stream};

/// The largest static file served, so one request cannot exhaust memory.
const MAX_STATIC_FILE_BYTES: u64 = 64 << 20;

/// Serves one HTTP connection on a web transport (one request, then close).
pub(super) async fn serve(core: Rc<Core>, stream: Stream, peer: Peer, web: &WebTransport) {
    let options = WebSocketOptions::default();
    let limits = websocket::limits(&options);
    let Some((mut buf, head_len)) = http::read_head(
        &stream,
        &peer,
        limits.max_header_bytes,
        options.open_handshake_timeout_ms,
    )
    .await
    else {
        stream.shutdown();
        return;
    };
    let head = String::from_utf8_lossy(&buf[..head_len]).into_owned();
    let mut request_line = head.lines().next().unwrap_or("").split(' ');
    let method = request_line.next().unwrap_or("");
    let target = request_line.next().unwrap_or("/");
    let path = target
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .trim_start_matches('/');
    let first = path.split('/').next().unwrap_or("");
    let is_upgrade = head.lines().any(|line| {
        let line = line.to_ascii_lowercase();
        line.starts_with("upgrade:") && line.contains("websocket")
    });
    let service = web
        .paths
        .iter()
        .find(|(p, _)| !first.is_empty() && p.trim_start_matches('/') == first)
        .or_else(|| web.paths.iter().find(|(p, _)| p == "/"));
    match service {
        Some((_, WebService::WebSocket(ws))) if is_upgrade => {
            match handshake::parse_request(&buf, &limits) {
                Ok(Some((request, used))) => {
                    let rest = buf.split_off(used);
                    websocket::serve(core, stream, peer, ws, Some((request, rest))).await
                }
                Ok(None) => http::respond_error(&stream, 400, "incomplete request").await,
                Err(e) => {
                    let mut out = bytes::BytesMut::new();
                    handshake::write_rejection(&e, &mut out);
                    let _ = stream.write_all(vec![out.freeze()]).await;
                    stream.shutdown();
                }
            }
        }
        _ if method != "GET" && method != "HEAD" => {
            http::respond_error(&stream, 405, "only GET and HEAD are served here").await
        }
        Some((_, WebService::WebSocket(_))) => {
            http::respond_error(
                &stream,
                426,
                "this path serves WAMP over WebSocket; send an Upgrade request",
            )
            .await
        }
        Some((mount, WebService::Static { directory })) => {
            let relative = if mount == "/" {
                path
            } else {
                path.strip_prefix(first)
                    .unwrap_or("")
                    .trim_start_matches('/')
            };
            serve_file(&stream, directory, relative, method == "HEAD").await
        }
        Some((_, WebService::NodeInfo)) => {
            let body = node_info(&core);
            http::respond_ok(
                &stream,
                "text/html; charset=utf-8",
                body.into_bytes(),
                method == "HEAD",
            )
            .await
        }
        None => http::respond_error(&stream, 404, "not found").await,
    }
}

fn node_info(core: &Core) -> String {
    let sessions: Vec<String> = core
        .shared
        .figures
        .iter()
        .enumerate()
        .map(|(i, n)| format!("<li>core {i}: {} sessions</li>", n.sessions.get()))
        .collect();
    format!(
        "<!doctype html><html><head><title>ringbar</title></head><body><h1>ringbar {}</h1>\
         <p>WAMP router node. Realms: {}.</p><ul>{}</ul></body></html>",
        env!("CARGO_PKG_VERSION"),
        core.shared.realms.names().join(", "),
        sessions.join("")
    )
}

async fn serve_file(stream: &Stream, directory: &Path, relative: &str, head_only: bool) {
    let Some(path) = safe_join(directory, relative) else {
        return http::respond_error(stream, 404, "not found").await;
    };
    let path = if path.is_dir() {
        path.join("index.html")
    } else {
        path
    };
    let too_big = std::fs::metadata(&path)
        .map(|m| m.len() > MAX_STATIC_FILE_BYTES)
        .unwrap_or(true);
    if too_big {
        return http::respond_error(stream, 404, "not found").await;
    }
    match std::fs::read(&path) {
        Ok(body) => http::respond_ok(stream, content_type(&path), body, head_only).await,
        Err(_) => http::respond_error(stream, 404, "not found").await,
    }
}

/// `directory` + `relative`, refusing anything that would leave `directory`.
fn safe_join(directory: &Path, relative: &str) -> Option<PathBuf> {
    let relative = relative.split(['?', '#']).next().unwrap_or("");
    let mut path = directory.to_path_buf();
    for component in Path::new(relative).components() {
        match component {
            Component::Normal(part) => path.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(path)
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_paths_stay_inside_the_directory() {
        let root = Path::new("/srv/web");
        assert_eq!(
            safe_join(root, "a/b.html"),
            Some(PathBuf::from("/srv/web/a/b.html"))
        );
        assert_eq!(safe_join(root, "../etc/passwd"), None);
        assert_eq!(safe_join(root, "/etc/passwd"), None);
        assert_eq!(
            safe_join(root, "x.html?v=1"),
            Some(PathBuf::from("/srv/web/x.html"))
        );
    }
}
