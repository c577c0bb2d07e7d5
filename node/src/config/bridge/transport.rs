//! Where a container component connects: Crossbar.io's connecting
//! `transport` (`websocket` with `url`, or `rawsocket`, each with a `tcp` or
//! `unix` endpoint). One that points at a transport of this node's own
//! router is reached over the node's worker socket instead, with the role
//! that transport gives anonymous sessions (which is what the component
//! would get connecting there: container components do not authenticate).

use std::net::IpAddr;
use std::path::Path as FsPath;

use ringbar_client::Url;
use ringbar_engine::config::{Endpoint, RouterConfig, TransportConfig};
use serde_json::Value;

use super::file::{
    ClientRawSocketFile, ClientWebSocketFile, ConnectingTcpFile, ConnectingUnixFile,
};
use crate::config::convert::{self, Env};
use crate::config::diag::{Diagnostics, Path};
use crate::config::read::{Accept, read_with, type_tag};

/// Where a component joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    /// This node's router, over the worker socket, with this role.
    Own {
        /// The role of anonymous sessions on the transport named.
        role: String,
    },
    /// A router elsewhere.
    Remote(Url),
}

/// The serializers a RawSocket transport may name (ringbar's bridge
/// speaks JSON, which every router offers).
const SERIALIZERS: [&str; 4] = ["json", "msgpack", "cbor", "ubjson"];

/// Where the connecting transport at `path` leads.
pub(super) fn target(
    value: &Value,
    path: &Path,
    dir: &FsPath,
    env: Env<'_>,
    router: Option<&RouterConfig>,
    diag: &mut Diagnostics,
) -> Option<Target> {
    match type_tag(value, path, "transport", "websocket, rawsocket", diag)? {
        "websocket" => {
            let accept = Accept::silent(&["type", "id", "serializers", "options"]);
            let file: ClientWebSocketFile = read_with(value, path, diag, accept)?;
            let url_path = path.key("url");
            let endpoint = endpoint(&file.endpoint, &path.key("endpoint"), dir, env, diag)?;
            let websocket_path = match file.url.split_once("://") {
                Some((scheme @ ("ws" | "wss"), rest)) => {
                    let at = rest.find('/').unwrap_or(rest.len());
                    (scheme, if at == rest.len() { "/" } else { &rest[at..] })
                }
                _ => {
                    diag.error(
                        &url_path,
                        format!("{:?} is not a ws:// or wss:// URL", file.url),
                    );
                    return None;
                }
            };
            match endpoint {
                Connecting::Tcp { host, port, tls } => {
                    if let Some(role) = own_tcp(router, &host, port) {
                        return Some(Target::Own { role });
                    }
                    if tls || websocket_path.0 == "wss" {
                        diag.error(
                            &path.key("endpoint").key("tls"),
                            "TLS to a remote router is not supported yet for bridge components: connect to a transport of this node, or over plain ws:// on a trusted network",
                        );
                        return None;
                    }
                    let authority = if host.contains(':') {
                        format!("[{host}]:{port}")
                    } else {
                        format!("{host}:{port}")
                    };
                    Url::parse(&format!("ws://{authority}{}", websocket_path.1))
                        .map(Target::Remote)
                        .map_err(|e| diag.error(&url_path, e))
                        .ok()
                }
                Connecting::Unix(socket) => {
                    if let Some(role) = own_unix(router, &socket) {
                        return Some(Target::Own { role });
                    }
                    diag.error(
                        &path.key("endpoint"),
                        "WebSocket over a Unix socket is not supported for bridge components: use a rawsocket transport",
                    );
                    None
                }
            }
        }
        "rawsocket" => {
            let accept = Accept::silent(&["type", "id", "options", "url", "debug"]);
            let file: ClientRawSocketFile = read_with(value, path, diag, accept)?;
            if !SERIALIZERS.contains(&file.serializer.as_str()) {
                diag.error(
                    &path.key("serializer"),
                    format!(
                        "{:?} is not a serializer ({})",
                        file.serializer,
                        SERIALIZERS.join(", ")
                    ),
                );
                return None;
            }
            match endpoint(&file.endpoint, &path.key("endpoint"), dir, env, diag)? {
                Connecting::Tcp { host, port, tls } => {
                    if let Some(role) = own_tcp(router, &host, port) {
                        return Some(Target::Own { role });
                    }
                    if tls {
                        diag.error(
                            &path.key("endpoint").key("tls"),
                            "TLS to a remote router is not supported yet for bridge components",
                        );
                        return None;
                    }
                    Some(Target::Remote(Url::rawsocket(&host, port)))
                }
                Connecting::Unix(socket) => Some(match own_unix(router, &socket) {
                    Some(role) => Target::Own { role },
                    None => Target::Remote(Url::rawsocket_unix(&socket)),
                }),
            }
        }
        other => {
            diag.error(
                &path.key("type"),
                format!("\"{other}\" is not a transport type (websocket, rawsocket)"),
            );
            None
        }
    }
}

/// A connecting endpoint.
enum Connecting {
    Tcp { host: String, port: u16, tls: bool },
    Unix(std::path::PathBuf),
}

fn endpoint(
    value: &Value,
    path: &Path,
    dir: &FsPath,
    env: Env<'_>,
    diag: &mut Diagnostics,
) -> Option<Connecting> {
    match type_tag(value, path, "endpoint", "tcp, unix", diag)? {
        "tcp" => {
            let accept = Accept::silent(&["type", "version", "timeout"]);
            let file: ConnectingTcpFile = read_with(value, path, diag, accept)?;
            let port = convert::port(&file.port, &path.key("port"), env, diag)?;
            if file.host.is_empty() {
                diag.error(
                    &path.key("host"),
                    "empty host: give the router's name or address",
                );
                return None;
            }
            Some(Connecting::Tcp {
                host: file.host,
                port,
                tls: file.tls.is_some(),
            })
        }
        "unix" => {
            let file: ConnectingUnixFile =
                read_with(value, path, diag, Accept::silent(&["type", "timeout"]))?;
            Some(Connecting::Unix(dir.join(file.path)))
        }
        other => {
            diag.error(
                &path.key("type"),
                format!(
                    "\"{other}\" is not a connecting endpoint type ringbar supports (tcp, unix)"
                ),
            );
            None
        }
    }
}

/// The anonymous role of the own transport on `port` that `host` reaches.
fn own_tcp(router: Option<&RouterConfig>, host: &str, port: u16) -> Option<String> {
    let host: Option<IpAddr> = if host == "localhost" {
        Some(IpAddr::from([127, 0, 0, 1]))
    } else {
        host.trim_matches(|c| c == '[' || c == ']').parse().ok()
    };
    let host = host?;
    own(router, |endpoint| match endpoint {
        Endpoint::Tcp {
            interface,
            port: listening,
            ..
        } => {
            *listening == port
                && match interface {
                    // Every address (`0.0.0.0`, `::`, or none given) takes loopback.
                    None => host.is_loopback(),
                    Some(interface) if interface.is_unspecified() => host.is_loopback(),
                    Some(interface) => {
                        *interface == host || (interface.is_loopback() && host.is_loopback())
                    }
                }
        }
        Endpoint::Unix { .. } => false,
    })
}

/// The anonymous role of the own transport on the Unix socket `socket`.
fn own_unix(router: Option<&RouterConfig>, socket: &FsPath) -> Option<String> {
    own(
        router,
        |endpoint| matches!(endpoint, Endpoint::Unix { path } if path == socket),
    )
}

fn own(router: Option<&RouterConfig>, listens: impl Fn(&Endpoint) -> bool) -> Option<String> {
    let transport: &TransportConfig = router?.transports.iter().find(|t| listens(&t.endpoint))?;
    let mut kind = transport.kind.clone();
    kind.auths_mut().into_iter().find_map(|auth| {
        auth.anonymous
            .as_ref()
            .map(|anonymous| anonymous.role.clone())
    })
}
