//! Where the router under test listens, and how to speak to it: the URL
//! (`ws://host:port/path` for WebSocket, `rs://host:port` for RawSocket;
//! `wss://` and `rss://` over TLS), the realm and the serializer.

use std::path::Path;

use ringbar_protocol::codec::Serializer;

use crate::stream::TlsClient;

/// The WAMP transport a connection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// WAMP over WebSocket (HTTP upgrade, masked client frames).
    WebSocket,
    /// WAMP over RawSocket (4-octet handshake, length-prefixed frames).
    RawSocket,
}

/// Everything a session needs to reach and join the router.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// WebSocket or RawSocket.
    pub(crate) transport: Transport,
    /// Host name or address (IPv6 without brackets).
    pub(crate) host: String,
    /// TCP port.
    pub(crate) port: u16,
    /// The HTTP path of the WebSocket endpoint (unused for RawSocket).
    pub(crate) path: String,
    /// The realm every session joins.
    pub(crate) realm: String,
    /// JSON, MessagePack or CBOR.
    pub(crate) serializer: Serializer,
    /// TLS, for `wss://` and `rss://`.
    pub(crate) tls: Option<TlsClient>,
    /// Offer permessage-deflate on WebSocket connections (`--deflate`).
    pub(crate) deflate: bool,
}

impl Target {
    /// Parses `ws://host:port/path` or `rs://host:port` (also `tcp://`),
    /// or `wss://` and `rss://` for the same over TLS, which need the CA
    /// file `tls_ca` that the router's certificate chains to.
    pub(crate) fn parse(
        url: &str,
        realm: &str,
        serializer: Serializer,
        tls_ca: Option<&Path>,
    ) -> Result<Self, String> {
        let schemes = [
            ("ws://", Transport::WebSocket, false),
            ("wss://", Transport::WebSocket, true),
            ("rs://", Transport::RawSocket, false),
            ("tcp://", Transport::RawSocket, false),
            ("rss://", Transport::RawSocket, true),
        ];
        let Some((transport, rest, secure)) =
            schemes.iter().find_map(|(scheme, transport, tls)| {
                url.strip_prefix(scheme)
                    .map(|rest| (*transport, rest, *tls))
            })
        else {
            return Err(format!(
                "{url}: use ws://host:port/path (WebSocket) or rs://host:port (RawSocket), wss:// or rss:// over TLS"
            ));
        };
        let tls = match (secure, tls_ca) {
            (true, Some(ca)) => Some(TlsClient::from_ca_file(ca)?),
            (true, None) => {
                return Err(format!(
                    "{url}: a TLS URL needs --tls-ca FILE, the CA certificate the router's certificate chains to"
                ));
            }
            (false, Some(_)) => {
                return Err(format!("--tls-ca is for wss:// and rss:// URLs, not {url}"));
            }
            (false, None) => None,
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (host, port) = authority
            .rsplit_once(':')
            .ok_or_else(|| format!("{url}: the URL needs a port, e.g. ws://127.0.0.1:8080/ws"))?;
        let port = port
            .parse()
            .map_err(|_| format!("{url}: '{port}' is not a port number"))?;
        Ok(Self {
            transport,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
            path: format!("/{path}"),
            realm: realm.to_owned(),
            serializer,
            tls,
            deflate: false,
        })
    }

    /// `host:port`, for connecting and for the HTTP Host header.
    pub(crate) fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_transports() {
        let ws = Target::parse("ws://127.0.0.1:8080/ws", "realm1", Serializer::Json, None).unwrap();
        assert_eq!(ws.transport, Transport::WebSocket);
        assert_eq!(
            (ws.host.as_str(), ws.port, ws.path.as_str()),
            ("127.0.0.1", 8080, "/ws")
        );
        let rs = Target::parse("rs://[::1]:8081", "r", Serializer::Cbor, None).unwrap();
        assert_eq!(rs.transport, Transport::RawSocket);
        assert_eq!(rs.authority(), "[::1]:8081");
    }

    #[test]
    fn names_what_is_wrong() {
        assert!(
            Target::parse("http://x:1/", "r", Serializer::Json, None)
                .unwrap_err()
                .contains("ws://")
        );
        assert!(
            Target::parse("ws://x/ws", "r", Serializer::Json, None)
                .unwrap_err()
                .contains("port")
        );
        assert!(
            Target::parse("ws://x:y/ws", "r", Serializer::Json, None)
                .unwrap_err()
                .contains("'y'")
        );
        assert!(
            Target::parse("wss://x:1/ws", "r", Serializer::Json, None)
                .unwrap_err()
                .contains("--tls-ca")
        );
        assert!(
            Target::parse(
                "ws://x:1/ws",
                "r",
                Serializer::Json,
                Some(Path::new("ca.pem"))
            )
            .unwrap_err()
            .contains("wss://")
        );
    }
}
