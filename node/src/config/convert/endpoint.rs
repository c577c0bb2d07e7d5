//! Listening endpoints: `tcp` and `unix`.

use std::net::{IpAddr, Ipv4Addr};

use ringbar_engine::config::{Endpoint, TlsConfig};
use serde_json::Value;

use super::Converter;
use crate::config::diag::Path;
use crate::config::file::{TcpEndpointFile, TlsFile, UnixEndpointFile};
use crate::config::read::{Accept, read_with, show, type_tag};

/// The listen backlog when the file gives none: larger than Crossbar.io's
/// 50, so that a burst of connections is queued rather than dropped (and
/// retried by the clients a second later).
const DEFAULT_BACKLOG: u32 = 1024;

impl Converter<'_> {
    /// A transport's `endpoint`.
    pub(super) fn endpoint(&mut self, value: &Value, path: &Path) -> Option<Endpoint> {
        match type_tag(value, path, "endpoint", "tcp, unix", self.diag)? {
            "tcp" => self.tcp(value, path),
            "unix" => self.unix(value, path),
            kind @ ("twisted" | "onion") => {
                self.diag.error(
                    &path.key("type"),
                    format!("\"{kind}\" endpoints are not supported yet (tcp, unix)"),
                );
                None
            }
            other => {
                self.diag.error(
                    &path.key("type"),
                    format!("\"{other}\" is not an endpoint type (tcp, unix)"),
                );
                None
            }
        }
    }

    /// An endpoint's `tls`: file paths relative to the node directory. The
    /// files are read when the router starts, which names a bad one.
    fn tls(&mut self, value: &Value, path: &Path) -> Option<TlsConfig> {
        // dhparam and ciphers are OpenSSL settings: rustls picks safe ones
        let accept = Accept {
            silent: &[],
            ignored: &["dhparam", "ciphers"],
            ignored_message: "an OpenSSL setting; ignored (rustls uses its safe defaults)",
        };
        let file: TlsFile = read_with(value, path, self.diag, accept)?;
        let files = |list: &[String]| list.iter().map(|f| self.dir.join(f)).collect::<Vec<_>>();
        let chain_certificates = files(&file.chain_certificates);
        let ca_certificates = files(&file.ca_certificates);
        // Crossbar.io requires a client certificate whenever it has CAs to
        // check one against; ringbar's `require_client_certificate: false`
        // makes it optional.
        let require_client_certificate = file
            .require_client_certificate
            .unwrap_or(!ca_certificates.is_empty());
        if require_client_certificate && ca_certificates.is_empty() {
            self.diag.error(
                &path.key("require_client_certificate"),
                "client certificates need \"ca_certificates\" to check them against",
            );
            return None;
        }
        Some(TlsConfig {
            key: self.dir.join(&file.key),
            certificate: self.dir.join(&file.certificate),
            chain_certificates,
            ca_certificates,
            require_client_certificate,
        })
    }

    fn tcp(&mut self, value: &Value, path: &Path) -> Option<Endpoint> {
        // `shared` (one port for several processes) is what ringbar's
        // cores always do.
        let accept = Accept {
            silent: &["type", "shared"],
            ignored: &["user_timeout"],
            ignored_message: "not supported yet, ignored",
        };
        let file: TcpEndpointFile = read_with(value, path, self.diag, accept)?;
        let errors_before = self.diag.error_count();
        let tls = match &file.tls {
            Some(tls) => self.tls(tls, &path.key("tls")).map(Some),
            None => Some(None),
        };
        if file.portrange.is_some() {
            self.diag.error(
                &path.key("portrange"),
                "port ranges are not supported yet: give one \"port\"",
            );
        }
        let port = match &file.port {
            Some(port) => self.port(port, &path.key("port")),
            None if file.portrange.is_none() => {
                self.diag.error(path, "missing \"port\"");
                None
            }
            None => None,
        };
        let version = match file.version {
            None => None,
            Some(version @ (4 | 6)) => Some(version),
            Some(other) => {
                self.diag.error(
                    &path.key("version"),
                    format!("{other} is not an IP version (4, 6)"),
                );
                None
            }
        };
        let interface = match &file.interface {
            None => None,
            Some(text) => match text.trim().parse::<IpAddr>() {
                Ok(ip) => Some(ip),
                Err(_) => {
                    self.diag.error(
                        &path.key("interface"),
                        format!("\"{text}\" is not an IP address (e.g. 127.0.0.1, ::1, 0.0.0.0)"),
                    );
                    None
                }
            },
        };
        let interface = match (interface, version) {
            (Some(ip), Some(4)) if ip.is_ipv6() => {
                self.diag.error(
                    &path.key("interface"),
                    format!("{ip} is an IPv6 address but \"version\" is 4: set \"version\": 6"),
                );
                None
            }
            (Some(ip), Some(6)) if ip.is_ipv4() => {
                self.diag.error(
                    &path.key("interface"),
                    format!("{ip} is an IPv4 address but \"version\" is 6: set \"version\": 4"),
                );
                None
            }
            (Some(ip), _) => Some(ip),
            // Crossbar.io listens on every IPv4 address by default ...
            (None, None | Some(4)) => Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            // ... and with version 6 on `::`, which takes IPv4 too.
            (None, Some(_)) => None,
        };
        let backlog = self.backlog(file.backlog, path);
        (self.diag.error_count() == errors_before).then_some(Endpoint::Tcp {
            interface,
            port: port?,
            backlog: backlog?,
            tls: tls?,
        })
    }

    fn unix(&mut self, value: &Value, path: &Path) -> Option<Endpoint> {
        let file: UnixEndpointFile = read_with(value, path, self.diag, Accept::silent(&["type"]))?;
        self.backlog(file.backlog, path)?;
        if file.path.is_empty() {
            self.diag
                .error(&path.key("path"), "empty path: give the socket file's path");
            return None;
        }
        Some(Endpoint::Unix {
            path: self.dir.join(&file.path),
        })
    }

    fn backlog(&mut self, backlog: Option<i64>, path: &Path) -> Option<u32> {
        match backlog {
            None => Some(DEFAULT_BACKLOG),
            Some(backlog @ 1..=65535) => u32::try_from(backlog).ok(),
            Some(other) => {
                self.diag.error(
                    &path.key("backlog"),
                    format!("{other} is not a backlog (1-65535)"),
                );
                None
            }
        }
    }

    /// A port: a number, or `"$VAR"` / `"${VAR}"` naming an environment
    /// variable that holds one, as Crossbar.io allows.
    pub(super) fn port(&mut self, value: &Value, path: &Path) -> Option<u16> {
        let from_env = value.as_str().and_then(env_var_name);
        let (text, origin) = match (value, from_env) {
            (Value::Number(number), _) => (number.to_string(), String::new()),
            (_, Some(name)) => match (self.env)(name) {
                Some(text) => (text, format!(" (from ${name})")),
                None => {
                    self.diag.error(
                        path,
                        format!(
                            "environment variable {name} is not set (the port is {})",
                            show(value)
                        ),
                    );
                    return None;
                }
            },
            _ => {
                self.diag
                    .error(path, format!("{} is not a port (1-65535)", show(value)));
                return None;
            }
        };
        match text.trim().parse::<u16>() {
            Ok(port) if port > 0 => Some(port),
            _ => {
                let shown = if origin.is_empty() {
                    text
                } else {
                    format!("\"{text}\"")
                };
                self.diag
                    .error(path, format!("{shown}{origin} is not a port (1-65535)"));
                None
            }
        }
    }
}

/// The variable named by `"$NAME"` or `"${NAME}"`.
pub(super) fn env_var_name(text: &str) -> Option<&str> {
    let name = text
        .strip_prefix("${")
        .and_then(|rest| rest.strip_suffix('}'))
        .or_else(|| text.strip_prefix('$'))?;
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    (first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_var_names() {
        assert_eq!(env_var_name("$PORT"), Some("PORT"));
        assert_eq!(env_var_name("${WS_PORT}"), Some("WS_PORT"));
        assert_eq!(env_var_name("$1"), None);
        assert_eq!(env_var_name("8080"), None);
        assert_eq!(env_var_name("${}"), None);
    }
}
