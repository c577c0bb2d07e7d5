//! Where a router listens: `ws://HOST[:PORT][/PATH]` or `wss://...`
//! (WebSocket, over TLS for `wss`), or a RawSocket on a TCP port or a Unix
//! socket (Crossbar.io configures those by endpoint, not by URL:
//! `rs://HOST:PORT`, `rs+unix://PATH`).

use std::path::Path;

use crate::error::Error;

/// A parsed WebSocket URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// The URL as given.
    pub text: String,
    /// `wss://`: WebSocket over TLS.
    pub tls: bool,
    /// Host name or address (IPv6 without brackets); empty for a Unix
    /// socket.
    pub host: String,
    /// TCP port: the URL's, else 80 (`ws://`) or 443 (`wss://`); 0 for a
    /// Unix socket.
    pub port: u16,
    /// The request target (path and query, `/` when absent), or the Unix
    /// socket's file.
    pub path: String,
    /// Which transport reaches it.
    pub transport: UrlTransport,
}

/// The WAMP transport a [`Url`] is reached by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlTransport {
    /// WebSocket over TCP (or TLS, see [`Url::tls`]).
    WebSocket,
    /// RawSocket over TCP.
    RawSocket,
    /// RawSocket over a Unix socket: the cheapest way to a router on the
    /// same machine.
    RawSocketUnix,
}

impl Url {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let fail = |reason: &str| Error::Url {
            url: text.to_owned(),
            reason: reason.to_owned(),
        };
        let (tls, rest) = match (text.strip_prefix("wss://"), text.strip_prefix("ws://")) {
            (Some(rest), _) => (true, rest),
            (None, Some(rest)) => (false, rest),
            (None, None) => {
                return Err(fail(
                    "expected a ws:// or wss:// URL, e.g. wss://manage.example.com/ws",
                ));
            }
        };
        let (authority, path) = match rest.find('/') {
            Some(at) => rest.split_at(at),
            None => (rest, "/"),
        };
        let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
            let (host, tail) = inner
                .split_once(']')
                .ok_or_else(|| fail("an IPv6 host needs its closing ']'"))?;
            (host, tail.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() || host.chars().any(char::is_whitespace) || host.contains('@') {
            return Err(fail(
                "the URL has no host (user info and spaces are not allowed)",
            ));
        }
        let port = match port {
            Some(port) => port
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| fail("the port must be a number in 1..65535"))?,
            None if tls => 443,
            None => 80,
        };
        Ok(Url {
            text: text.to_owned(),
            tls,
            host: host.to_owned(),
            port,
            path: path.to_owned(),
            transport: UrlTransport::WebSocket,
        })
    }

    /// RawSocket over TCP to `host:port`.
    pub fn rawsocket(host: &str, port: u16) -> Self {
        let mut url = Url {
            text: String::new(),
            tls: false,
            host: host.to_owned(),
            port,
            path: String::new(),
            transport: UrlTransport::RawSocket,
        };
        url.text = format!("rs://{}", url.authority());
        url
    }

    /// RawSocket over the Unix socket `path`.
    pub fn rawsocket_unix(path: &Path) -> Self {
        let path = path.to_string_lossy().into_owned();
        Url {
            text: format!("rs+unix://{path}"),
            tls: false,
            host: String::new(),
            port: 0,
            path,
            transport: UrlTransport::RawSocketUnix,
        }
    }

    /// Whether the host is this machine (`localhost` or a loopback
    /// address), where plain `ws://` crosses no network.
    pub fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost")
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// `host:port` as the HTTP Host header and for connecting.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls_parse_with_defaults() {
        let url = Url::parse("ws://127.0.0.1:9000/ws").unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.path.as_str()),
            ("127.0.0.1", 9000, "/ws")
        );
        let url = Url::parse("ws://example.org").unwrap();
        assert_eq!((url.port, url.path.as_str(), url.tls), (80, "/", false));
        let url = Url::parse("wss://example.org/ws").unwrap();
        assert_eq!((url.port, url.path.as_str(), url.tls), (443, "/ws", true));
        let url = Url::parse("wss://example.org:9443").unwrap();
        assert_eq!((url.host.as_str(), url.port), ("example.org", 9443));
        let url = Url::parse("ws://[::1]:8080/x?y=1").unwrap();
        assert_eq!(
            (url.host.as_str(), url.authority()),
            ("::1", "[::1]:8080".to_owned())
        );
    }

    #[test]
    fn rawsocket_addresses_name_themselves() {
        let url = Url::rawsocket("::1", 8081);
        assert_eq!(
            (url.text.as_str(), url.transport),
            ("rs://[::1]:8081", UrlTransport::RawSocket)
        );
        let url = Url::rawsocket_unix(Path::new("/run/node/workers.sock"));
        assert_eq!(
            (url.text.as_str(), url.path.as_str(), url.transport),
            (
                "rs+unix:///run/node/workers.sock",
                "/run/node/workers.sock",
                UrlTransport::RawSocketUnix
            )
        );
    }

    #[test]
    fn bad_urls_say_why() {
        for (text, reason) in [
            ("http://h/", "expected a ws:// or wss://"),
            ("wss://:443/", "no host"),
            ("ws://:80/", "no host"),
            ("ws://user@h/ws", "no host"),
            ("ws://h:0/", "1..65535"),
            ("ws://h:x/", "1..65535"),
        ] {
            let error = Url::parse(text).unwrap_err().to_string();
            assert!(error.contains(reason), "{text}: {error}");
        }
    }

    #[test]
    fn loopback_hosts_are_this_machine() {
        for (text, loopback) in [
            ("ws://127.0.0.1:9000/ws", true),
            ("ws://127.3.2.1/ws", true),
            ("ws://[::1]:9000/ws", true),
            ("ws://LocalHost:9000/ws", true),
            ("ws://10.0.0.1/ws", false),
            ("ws://manage.example.com/ws", false),
            ("ws://localhost.example.com/ws", false),
        ] {
            assert_eq!(Url::parse(text).unwrap().is_loopback(), loopback, "{text}");
        }
    }
}
