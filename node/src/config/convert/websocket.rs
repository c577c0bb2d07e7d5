//! What WebSocket transports and web paths share: serializers, WebSocket
//! options and authentication.

use ringbar_engine::config::{WebSocketOptions, WebSocketTransport};
use ringbar_protocol::codec::Serializer;
use ringbar_protocol::websocket::deflate::DeflateConfig;
use ringbar_protocol::websocket::pattern_can_match;
use serde_json::Value;

use super::Converter;
use crate::config::diag::Path;
use crate::config::file::{DeflateFile, WebSocketFile, WebSocketOptionsFile};
use crate::config::read::{Accept, read_with};

/// Crossbar.io WebSocket options that ringbar accepts and does not use:
/// most are behaviours ringbar always has (UTF-8 validation, masked client
/// frames, TCP_NODELAY) or Autobahn internals.
const IGNORED_OPTIONS: &[&str] = &[
    "external_port",
    "enable_hybi10",
    "enable_rfc6455",
    "enable_webstatus",
    "validate_utf8",
    "mask_server_frames",
    "require_masked_client_frames",
    "apply_mask",
    "auto_fragment_size",
    "fail_by_drop",
    "echo_close_codereason",
    "tcp_nodelay",
    "auto_ping_restart_on_any_traffic",
    "enable_flash_policy",
    "flash_policy",
    "show_server_version",
];

/// The serializer names, for messages.
const SERIALIZERS: &str = "json, msgpack, cbor, ubjson";

/// The window sizes Crossbar.io accepts: zlib refuses 8 for raw deflate.
const WINDOW_BITS: std::ops::RangeInclusive<u8> = 9..=15;

/// When `max_frame_size` is 0 (no limit in Crossbar.io), ringbar still keeps
/// one: the largest message Crossbar.io allows.
const NO_LIMIT_FRAME_BYTES: usize = 64 << 20;

impl Converter<'_> {
    /// The WAMP-over-WebSocket part of a `websocket` transport or path.
    pub(super) fn websocket(
        &mut self,
        file: WebSocketFile,
        path: &Path,
    ) -> Option<WebSocketTransport> {
        let serializers = self.serializers(file.serializers.as_deref(), &path.key("serializers"));
        let options = match &file.options {
            Some(options) => self.websocket_options(options, &path.key("options")),
            None => Some(WebSocketOptions::default()),
        };
        let auth = self.auth(file.auth.as_ref(), path);
        if file.cookie.is_some() {
            self.diag.warn(
                &path.key("cookie"),
                "cookie tracking is not supported yet; ignored",
            );
        }
        Some(WebSocketTransport {
            serializers: serializers?,
            options: options?,
            auth: auth?,
        })
    }

    /// `serializers`: every one when absent; order kept, repeats dropped.
    pub(super) fn serializers(
        &mut self,
        names: Option<&[String]>,
        path: &Path,
    ) -> Option<Vec<Serializer>> {
        let Some(names) = names else {
            return Some(Serializer::ALL.to_vec());
        };
        if names.is_empty() {
            self.diag.error(
                path,
                format!("no serializers: list at least one of {SERIALIZERS}"),
            );
            return None;
        }
        let mut serializers = Vec::with_capacity(names.len());
        let mut ok = true;
        for (index, name) in names.iter().enumerate() {
            match Serializer::from_name(name) {
                Some(serializer) if !serializers.contains(&serializer) => {
                    serializers.push(serializer)
                }
                Some(_) => {}
                None => {
                    ok = false;
                    self.diag.error(
                        &path.index(index),
                        format!("\"{name}\" is not supported ({SERIALIZERS})"),
                    );
                }
            }
        }
        ok.then_some(serializers)
    }

    /// WebSocket `options`, from Crossbar.io's names and units.
    pub(super) fn websocket_options(
        &mut self,
        value: &Value,
        path: &Path,
    ) -> Option<WebSocketOptions> {
        let accept = Accept {
            silent: &[],
            ignored: IGNORED_OPTIONS,
            ignored_message: "Crossbar.io option not used by ringbar, ignored",
        };
        let file: WebSocketOptionsFile = read_with(value, path, self.diag, accept)?;
        let errors_before = self.diag.error_count();
        let mut options = WebSocketOptions::default();
        if let Some(bytes) = file.max_frame_size {
            let at = path.key("max_frame_size");
            match usize::try_from(bytes) {
                Ok(0) => {
                    self.diag.warn(
                        &at,
                        format!("0 (no limit) is not allowed; using {NO_LIMIT_FRAME_BYTES} bytes"),
                    );
                    options.max_frame_bytes = NO_LIMIT_FRAME_BYTES;
                }
                Ok(bytes) => options.max_frame_bytes = bytes,
                Err(_) => self.diag.error(
                    &at,
                    format!("{bytes} is not a frame size (at least 1 byte)"),
                ),
            }
        }
        if let Some(bytes) = file.max_message_size
            && let Some(bytes) = self.message_size(bytes, &path.key("max_message_size"))
        {
            options.max_message_bytes = bytes;
        }
        let millis = [
            (file.open_handshake_timeout, "open_handshake_timeout"),
            (file.close_handshake_timeout, "close_handshake_timeout"),
            (file.auto_ping_interval, "auto_ping_interval"),
            (file.auto_ping_timeout, "auto_ping_timeout"),
        ];
        for (value, key) in millis {
            let Some(ms) = value.and_then(|ms| self.millis(ms, &path.key(key))) else {
                continue;
            };
            match key {
                "open_handshake_timeout" => options.open_handshake_timeout_ms = ms,
                "close_handshake_timeout" => options.close_handshake_timeout_ms = ms,
                "auto_ping_interval" => options.auto_ping_interval_ms = ms,
                _ => options.auto_ping_timeout_ms = ms,
            }
        }
        if let Some(size) = file.auto_ping_size {
            match usize::try_from(size) {
                Ok(size @ 4..=125) => options.auto_ping_size = size,
                _ => self.diag.error(
                    &path.key("auto_ping_size"),
                    format!("{size} is not a ping size (4-125 bytes)"),
                ),
            }
        }
        if let Some(require) = file.require_websocket_subprotocol {
            options.require_subprotocol = require;
        }
        if let Some(origins) = file.allowed_origins {
            for (index, pattern) in origins.iter().enumerate() {
                if !pattern_can_match(pattern) {
                    self.diag.warn(
                        &path.key("allowed_origins").index(index),
                        format!(
                            "\"{pattern}\" matches no origin: origins are matched as scheme://host:port, \
                             with the port always present; add \":*\" or the port (as in Crossbar.io)"
                        ),
                    );
                }
            }
            options.origins.allowed = origins;
        }
        if let Some(allow) = file.allow_null_origin {
            options.origins.allow_null = allow;
        }
        if let Some(deflate) = file.compression.and_then(|c| c.deflate) {
            options.deflate = Some(self.deflate(&deflate, &path.key("compression").key("deflate")));
        }
        (self.diag.error_count() == errors_before).then_some(options)
    }

    /// `compression.deflate`, range-checked as Crossbar.io checks it
    /// (window sizes 9-15 bits, as Autobahn's zlib allows, memory level
    /// 1-9).
    fn deflate(&mut self, file: &DeflateFile, path: &Path) -> DeflateConfig {
        let mut config = DeflateConfig::default();
        if let Some(request) = file.request_no_context_takeover {
            config.request_no_context_takeover = request;
        }
        if let Some(no) = file.no_context_takeover {
            config.no_context_takeover = no;
        }
        if let Some(bits) = file.request_max_window_bits {
            let at = path.key("request_max_window_bits");
            config.request_max_window_bits = match bits {
                0 => 0,
                _ => self.in_range(
                    bits,
                    WINDOW_BITS,
                    "is not a window size (0, or 9-15 bits)",
                    &at,
                ),
            };
        }
        if let Some(bits) = file.max_window_bits {
            let at = path.key("max_window_bits");
            config.max_window_bits =
                self.in_range(bits, WINDOW_BITS, "is not a window size (9-15 bits)", &at);
        }
        if let Some(level) = file.memory_level {
            let at = path.key("memory_level");
            config.memory_level = self.in_range(level, 1..=9, "is not a memory level (1-9)", &at);
        }
        config
    }

    /// `value` when in `range`, otherwise an error at `path` saying `what`
    /// (and 0, which no caller keeps).
    fn in_range(
        &mut self,
        value: i64,
        range: std::ops::RangeInclusive<u8>,
        what: &str,
        path: &Path,
    ) -> u8 {
        match u8::try_from(value) {
            Ok(v) if range.contains(&v) => v,
            _ => {
                self.diag.error(path, format!("{value} {what}"));
                0
            }
        }
    }

    /// A duration in ms, checked as Crossbar.io does: 0 (off), or at least
    /// 1000, since a smaller number is most likely meant as seconds.
    fn millis(&mut self, ms: i64, path: &Path) -> Option<u64> {
        match ms {
            0 | 1000.. => u64::try_from(ms).ok(),
            1..=999 => {
                self.diag.error(
                    path,
                    format!("{ms} is in milliseconds and too small (0, or at least 1000)"),
                );
                None
            }
            _ => {
                self.diag.error(
                    path,
                    format!("{ms} is not a duration (0, or at least 1000 ms)"),
                );
                None
            }
        }
    }
}
