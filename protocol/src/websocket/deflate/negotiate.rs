//! permessage-deflate negotiation (RFC 7692 §5, §7.1): the server picks the
//! first acceptable offer; the client checks the server's answer.

use super::extensions::Extension;

/// The extension's registered name.
pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// Largest LZ77 window (32 KiB), the default of both directions.
pub const MAX_WINDOW_BITS: u8 = 15;

/// Smallest LZ77 window the RFC allows (256 bytes).
pub const MIN_WINDOW_BITS: u8 = 8;

/// A server's permessage-deflate options, as Crossbar.io's
/// `compression.deflate` block names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeflateConfig {
    /// Ask the client to compress each message on its own
    /// (`client_no_context_takeover`), which saves the server the client's
    /// window between messages.
    pub request_no_context_takeover: bool,
    /// Ask the client for a window of at most this many bits
    /// (`client_max_window_bits`); 0 asks nothing. Only clients that offer
    /// `client_max_window_bits` can be asked, so the others get no
    /// compression.
    pub request_max_window_bits: u8,
    /// Compress each server message on its own (`server_no_context_takeover`):
    /// one compressed frame can then be shared by every receiver.
    pub no_context_takeover: bool,
    /// The server's compression window, at most (`server_max_window_bits`
    /// lowers it further).
    pub max_window_bits: u8,
    /// zlib's memory level of the compressor (1 to 9), kept for
    /// configuration compatibility.
    pub memory_level: u8,
}

impl Default for DeflateConfig {
    /// Autobahn's defaults: context takeover both ways, full windows,
    /// memory level 8.
    fn default() -> Self {
        Self {
            request_no_context_takeover: false,
            request_max_window_bits: 0,
            no_context_takeover: false,
            max_window_bits: MAX_WINDOW_BITS,
            memory_level: 8,
        }
    }
}

/// The parameters both ends use once permessage-deflate is agreed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeflateParams {
    /// The server compresses each message with an empty window.
    pub server_no_context_takeover: bool,
    /// The client compresses each message with an empty window.
    pub client_no_context_takeover: bool,
    /// The server's compression window, in bits (8 to 15).
    pub server_max_window_bits: u8,
    /// The client's compression window, in bits (8 to 15).
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    fn default() -> Self {
        Self {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: MAX_WINDOW_BITS,
            client_max_window_bits: MAX_WINDOW_BITS,
        }
    }
}

/// An accepted offer: the parameters and the `Sec-WebSocket-Extensions`
/// value that tells the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeflateAccept {
    /// What both ends use.
    pub params: DeflateParams,
    /// The response's extension value, such as
    /// `permessage-deflate; server_no_context_takeover`.
    pub response: String,
}

/// Picks the first permessage-deflate offer in `offers` (the client's order
/// of preference) that is valid and that `config` can accept; `None`
/// declines them all, and the connection goes on uncompressed.
///
/// An offer with an unknown parameter, a repeated one or a bad value is
/// declined, as RFC 7692 §5 requires; so is one that lacks
/// `client_max_window_bits` while `config` asks for a smaller client
/// window (as Crossbar.io does).
pub fn negotiate(offers: &[Extension], config: &DeflateConfig) -> Option<DeflateAccept> {
    offers
        .iter()
        .filter(|offer| offer.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
        .filter_map(|offer| Offer::parse(&offer.params))
        .find_map(|offer| offer.accept(config))
}

/// The client's offer: `permessage-deflate; client_max_window_bits`, which
/// leaves every choice to the server and says the client can take a
/// smaller window.
pub const CLIENT_OFFER: &str = "permessage-deflate; client_max_window_bits";

/// Why a client refuses the server's extension answer (RFC 7692 §7.1):
/// the client must fail the connection.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeflateResponseError {
    /// The answer names another extension, or several.
    #[error("server answered with an extension other than one permessage-deflate")]
    UnexpectedExtension,
    /// A parameter is unknown, repeated or has a bad value.
    #[error("invalid permessage-deflate parameter {0:?} in the server's answer")]
    InvalidParameter(String),
}

impl DeflateParams {
    /// The parameters the server's answer to [`CLIENT_OFFER`] sets, or why
    /// the client must fail the connection. `response` is the parsed
    /// `Sec-WebSocket-Extensions` of the answer; empty means no compression.
    pub fn from_response(response: &[Extension]) -> Result<Option<Self>, DeflateResponseError> {
        let extension = match response {
            [] => return Ok(None),
            [one] if one.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE) => one,
            _ => return Err(DeflateResponseError::UnexpectedExtension),
        };
        let mut params = Self::default();
        let mut seen = Seen::default();
        for (name, value) in &extension.params {
            let invalid = || DeflateResponseError::InvalidParameter(name.clone());
            let bits = || value.as_deref().and_then(window_bits).ok_or_else(invalid);
            match name.as_str() {
                "server_no_context_takeover" if value.is_none() => {
                    seen.mark(0).ok_or_else(invalid)?;
                    params.server_no_context_takeover = true;
                }
                "client_no_context_takeover" if value.is_none() => {
                    seen.mark(1).ok_or_else(invalid)?;
                    params.client_no_context_takeover = true;
                }
                "server_max_window_bits" => {
                    seen.mark(2).ok_or_else(invalid)?;
                    params.server_max_window_bits = bits()?;
                }
                "client_max_window_bits" => {
                    seen.mark(3).ok_or_else(invalid)?;
                    params.client_max_window_bits = bits()?;
                }
                _ => return Err(invalid()),
            }
        }
        Ok(Some(params))
    }
}

/// A valid permessage-deflate offer.
#[derive(Debug, Default)]
struct Offer {
    server_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `None`: not offered; `Some(None)`: offered without a value.
    client_max_window_bits: Option<Option<u8>>,
}

impl Offer {
    /// The offer in `params`, or `None` when it must be declined.
    fn parse(params: &[(String, Option<String>)]) -> Option<Self> {
        let mut offer = Self::default();
        let mut seen = Seen::default();
        for (name, value) in params {
            match (name.as_str(), value.as_deref()) {
                ("server_no_context_takeover", None) => {
                    seen.mark(0)?;
                    offer.server_no_context_takeover = true;
                }
                // A hint that the client can reset its context; the server
                // asks for it by its own option.
                ("client_no_context_takeover", None) => seen.mark(1)?,
                ("server_max_window_bits", Some(value)) => {
                    seen.mark(2)?;
                    offer.server_max_window_bits = Some(window_bits(value)?);
                }
                ("client_max_window_bits", value) => {
                    seen.mark(3)?;
                    offer.client_max_window_bits = Some(match value {
                        Some(value) => Some(window_bits(value)?),
                        None => None,
                    });
                }
                _ => return None,
            }
        }
        Some(offer)
    }

    /// The answer under `config`, or `None` when `config` cannot accept it.
    fn accept(&self, config: &DeflateConfig) -> Option<DeflateAccept> {
        let client_window = match (config.request_max_window_bits, self.client_max_window_bits) {
            (0, _) => None,
            (_, None) => return None,
            (asked, Some(offered)) => Some(offered.map_or(asked, |offered| offered.min(asked))),
        };
        let server_window = self
            .server_max_window_bits
            .map_or(config.max_window_bits, |offered| {
                offered.min(config.max_window_bits)
            });
        let params = DeflateParams {
            server_no_context_takeover: self.server_no_context_takeover
                || config.no_context_takeover,
            client_no_context_takeover: config.request_no_context_takeover,
            server_max_window_bits: server_window,
            client_max_window_bits: client_window.unwrap_or(MAX_WINDOW_BITS),
        };
        let mut response = PERMESSAGE_DEFLATE.to_owned();
        if params.server_no_context_takeover {
            response.push_str("; server_no_context_takeover");
        }
        if self.server_max_window_bits.is_some() {
            response.push_str("; server_max_window_bits=");
            response.push_str(itoa::Buffer::new().format(server_window));
        }
        if params.client_no_context_takeover {
            response.push_str("; client_no_context_takeover");
        }
        if let Some(bits) = client_window {
            response.push_str("; client_max_window_bits=");
            response.push_str(itoa::Buffer::new().format(bits));
        }
        Some(DeflateAccept { params, response })
    }
}

/// Which of the four parameters appeared, to refuse repeats.
#[derive(Default)]
struct Seen([bool; 4]);

impl Seen {
    /// `None` when parameter `index` was already seen.
    fn mark(&mut self, index: usize) -> Option<()> {
        let seen = self.0.get_mut(index)?;
        if *seen {
            return None;
        }
        *seen = true;
        Some(())
    }
}

/// A window size: a decimal from 8 to 15 without leading zeroes (RFC 7692
/// §7.1.2).
fn window_bits(value: &str) -> Option<u8> {
    if value.starts_with('0') {
        return None;
    }
    value
        .parse()
        .ok()
        .filter(|bits| (MIN_WINDOW_BITS..=MAX_WINDOW_BITS).contains(bits))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::websocket::deflate::parse_extensions;

    fn negotiated(header: &str, config: &DeflateConfig) -> Option<(DeflateParams, String)> {
        let offers = parse_extensions([header]).unwrap();
        negotiate(&offers, config).map(|accept| (accept.params, accept.response))
    }

    fn plain(header: &str) -> Option<String> {
        negotiated(header, &DeflateConfig::default()).map(|(_, response)| response)
    }

    #[test]
    fn plain_offer_gets_plain_answer() {
        let (params, response) =
            negotiated("permessage-deflate", &DeflateConfig::default()).unwrap();
        assert_eq!(response, "permessage-deflate");
        assert_eq!(params, DeflateParams::default());
    }

    #[test]
    fn other_extensions_are_ignored() {
        assert_eq!(plain("x-webkit-deflate-frame"), None);
        assert_eq!(
            plain("x-foo, PerMessage-Deflate").as_deref(),
            Some("permessage-deflate")
        );
    }

    #[test]
    fn server_parameters_are_honoured() {
        let (params, response) = negotiated(
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10",
            &DeflateConfig::default(),
        )
        .unwrap();
        assert_eq!(
            response,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10"
        );
        assert!(params.server_no_context_takeover);
        assert_eq!(params.server_max_window_bits, 10);
    }

    #[test]
    fn server_window_is_the_smaller_of_offer_and_config() {
        let config = DeflateConfig {
            max_window_bits: 12,
            ..DeflateConfig::default()
        };
        let (params, response) = negotiated("permessage-deflate", &config).unwrap();
        assert_eq!(params.server_max_window_bits, 12);
        // Compressing with a smaller window needs no announcement.
        assert_eq!(response, "permessage-deflate");
        let (params, response) =
            negotiated("permessage-deflate; server_max_window_bits=14", &config).unwrap();
        assert_eq!(params.server_max_window_bits, 12);
        assert_eq!(response, "permessage-deflate; server_max_window_bits=12");
        let (params, _) =
            negotiated("permessage-deflate; server_max_window_bits=8", &config).unwrap();
        assert_eq!(params.server_max_window_bits, 8);
    }

    #[test]
    fn server_no_context_takeover_from_config_is_announced() {
        let config = DeflateConfig {
            no_context_takeover: true,
            ..DeflateConfig::default()
        };
        let (params, response) = negotiated("permessage-deflate", &config).unwrap();
        assert!(params.server_no_context_takeover);
        assert_eq!(response, "permessage-deflate; server_no_context_takeover");
    }

    #[test]
    fn client_max_window_bits_with_and_without_value() {
        // Offered, not asked for: nothing to answer.
        assert_eq!(
            plain("permessage-deflate; client_max_window_bits").as_deref(),
            Some("permessage-deflate")
        );
        assert_eq!(
            plain("permessage-deflate; client_max_window_bits=9").as_deref(),
            Some("permessage-deflate")
        );
        let config = DeflateConfig {
            request_max_window_bits: 10,
            ..DeflateConfig::default()
        };
        let (params, response) =
            negotiated("permessage-deflate; client_max_window_bits", &config).unwrap();
        assert_eq!(params.client_max_window_bits, 10);
        assert_eq!(response, "permessage-deflate; client_max_window_bits=10");
        let (params, _) =
            negotiated("permessage-deflate; client_max_window_bits=9", &config).unwrap();
        assert_eq!(params.client_max_window_bits, 9);
        // A client that cannot take a smaller window is declined.
        assert_eq!(negotiated("permessage-deflate", &config), None);
        // ... unless it has another offer that can.
        let (_, response) = negotiated(
            "permessage-deflate, permessage-deflate; client_max_window_bits",
            &config,
        )
        .unwrap();
        assert_eq!(response, "permessage-deflate; client_max_window_bits=10");
    }

    #[test]
    fn client_no_context_takeover_is_asked_by_config() {
        assert_eq!(
            plain("permessage-deflate; client_no_context_takeover").as_deref(),
            Some("permessage-deflate")
        );
        let config = DeflateConfig {
            request_no_context_takeover: true,
            ..DeflateConfig::default()
        };
        let (params, response) = negotiated("permessage-deflate", &config).unwrap();
        assert!(params.client_no_context_takeover);
        assert_eq!(response, "permessage-deflate; client_no_context_takeover");
    }

    #[test]
    fn bad_offers_are_declined_and_the_next_one_taken() {
        for bad in [
            "permessage-deflate; foo",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; server_max_window_bits=1a",
            "permessage-deflate; client_max_window_bits=0",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; client_no_context_takeover=true",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
            "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
        ] {
            assert_eq!(plain(bad), None, "{bad:?}");
            let with_fallback = format!("{bad}, permessage-deflate; server_max_window_bits=11");
            assert_eq!(
                plain(&with_fallback).as_deref(),
                Some("permessage-deflate; server_max_window_bits=11"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn client_reads_the_answer() {
        let parse =
            |header: &str| DeflateParams::from_response(&parse_extensions([header]).unwrap());
        assert_eq!(parse(""), Ok(None));
        assert_eq!(
            parse("permessage-deflate; server_no_context_takeover; client_max_window_bits=9"),
            Ok(Some(DeflateParams {
                server_no_context_takeover: true,
                client_max_window_bits: 9,
                ..DeflateParams::default()
            }))
        );
        for bad in [
            "permessage-deflate, permessage-deflate",
            "x-foo",
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; foo",
            "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
