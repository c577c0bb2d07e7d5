//! The `Origin` check of a WebSocket opening handshake, as Crossbar.io
//! (Autobahn) makes it, so that a Crossbar.io config's `allowed_origins`
//! and `allow_null_origin` admit exactly the same browsers.
//!
//! - A request without `Origin` is admitted: only browsers send it, and the
//!   check exists to stop other sites' pages, not native clients.
//! - `Origin: null` (sandboxed pages, and `file://` pages, which some
//!   browsers send as `file://`) is admitted only by `allow_null_origin`;
//!   no pattern, not even `*`, matches it.
//! - Any other origin is rewritten as `scheme://host:port` (scheme and host
//!   lowercased, the port always present: 80 for http and 443 for https
//!   when the header omits it) and admitted when some pattern matches the
//!   whole of that text, `*` standing for any run of characters. So
//!   `https://*.example.com` matches no origin (the port is missing), and
//!   `https://*.example.com:*` or `https://*.example.com:443` is meant.

use std::fmt;

/// Which origins a WebSocket transport admits (`allowed_origins`,
/// `allow_null_origin`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPolicy {
    /// The patterns, `*` matching any run of characters; Crossbar.io's
    /// default is `["*"]`. An empty list admits no origin, only requests
    /// without one.
    pub allowed: Vec<String>,
    /// Whether `Origin: null` is admitted; Crossbar.io's default is `true`.
    pub allow_null: bool,
}

impl Default for OriginPolicy {
    fn default() -> Self {
        Self {
            allowed: vec!["*".to_owned()],
            allow_null: true,
        }
    }
}

/// Why an origin was refused; the text goes into the 403 response and the
/// log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginRefused {
    /// `Origin: null` with `allow_null_origin` false.
    Null,
    /// The header is not a `scheme://host[:port]` origin.
    Malformed(String),
    /// No pattern of `allowed_origins` matches.
    NotAllowed(String),
}

impl fmt::Display for OriginRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OriginRefused::Null => f.write_str("origin 'null' not allowed (allow_null_origin)"),
            OriginRefused::Malformed(origin) => write!(f, "origin '{origin}' is not an origin"),
            OriginRefused::NotAllowed(origin) => {
                write!(f, "origin '{origin}' not allowed (allowed_origins)")
            }
        }
    }
}

impl OriginPolicy {
    /// Admits or refuses a handshake by its `Origin` header (`None`: the
    /// request has none).
    pub fn check(&self, origin: Option<&str>) -> Result<(), OriginRefused> {
        let Some(header) = origin.map(str::trim) else {
            return Ok(());
        };
        match Origin::parse(header) {
            Some(Origin::Null) if self.allow_null => Ok(()),
            Some(Origin::Null) => Err(OriginRefused::Null),
            Some(Origin::Tuple(text)) => {
                if self.allowed.iter().any(|p| wildcard_match(p, &text)) {
                    Ok(())
                } else {
                    Err(OriginRefused::NotAllowed(header.to_owned()))
                }
            }
            None => Err(OriginRefused::Malformed(header.to_owned())),
        }
    }
}

/// Whether a pattern of `allowed_origins` can match some origin at all:
/// one that names a scheme but no port never does, since the port is always
/// part of the text matched. Config checks warn about such patterns.
pub fn pattern_can_match(pattern: &str) -> bool {
    let Some((_, rest)) = pattern.split_once("://") else {
        return true;
    };
    rest.ends_with('*')
        || rest
            .rsplit_once(':')
            .is_some_and(|(_, port)| !port.is_empty())
}

/// An origin as it is matched.
enum Origin {
    /// `null`, or a `file://` page.
    Null,
    /// `scheme://host:port`.
    Tuple(String),
}

impl Origin {
    /// Reads an origin header as Autobahn does (`urlsplit`); `None` when it
    /// has no host or a bad port.
    fn parse(header: &str) -> Option<Origin> {
        if header.eq_ignore_ascii_case("null") {
            return Some(Origin::Null);
        }
        let (scheme, rest) = header.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme == "file" {
            return Some(Origin::Null);
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
        let (host, port) = split_host_port(host_port)?;
        if host.is_empty() {
            return None;
        }
        let port = match (port, scheme.as_str()) {
            (Some(port), _) => port.to_string(),
            (None, "http") => "80".to_owned(),
            (None, "https") => "443".to_owned(),
            // Autobahn formats a missing port of another scheme as `None`.
            (None, _) => "None".to_owned(),
        };
        Some(Origin::Tuple(format!(
            "{scheme}://{}:{port}",
            host.to_ascii_lowercase()
        )))
    }
}

/// Splits `host[:port]` or `[v6]:port`; `None` on a port that is not a
/// number in 0..=65535.
fn split_host_port(text: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if let Some(v6) = text.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    let port = match port {
        None | Some("") => None,
        Some(digits) => Some(digits.parse::<u16>().ok()?),
    };
    Some((host, port))
}

/// Matches the whole of `text` against `pattern`, where `*` stands for any
/// run of characters (Autobahn turns each pattern into an anchored regular
/// expression the same way).
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return true;
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allowed: &[&str], allow_null: bool) -> OriginPolicy {
        OriginPolicy {
            allowed: allowed.iter().map(|s| (*s).to_owned()).collect(),
            allow_null,
        }
    }

    /// (allowed_origins, allow_null_origin, Origin header, admitted)
    const CASES: &[(&[&str], bool, Option<&str>, bool)] = &[
        // no header: native clients, whatever the policy
        (&["*"], true, None, true),
        (&[], false, None, true),
        (&["https://example.com:443"], false, None, true),
        // null is governed by allow_null_origin, not by patterns
        (&["*"], true, Some("null"), true),
        (&["*"], false, Some("null"), false),
        (&[], true, Some("null"), true),
        (&["*"], false, Some("NULL"), false),
        (&["*"], true, Some("file://"), true),
        (&["*"], false, Some("file:///home/a/index.html"), false),
        // `*` admits every real origin
        (&["*"], false, Some("https://evil.example"), true),
        (&["*"], true, Some("http://localhost:8080"), true),
        // an empty list admits no origin
        (&[], true, Some("http://localhost:8080"), false),
        // scheme, host and port wildcards, against scheme://host:port
        (
            &["https://*.example.com:*"],
            true,
            Some("https://app.example.com"),
            true,
        ),
        (
            &["https://*.example.com:443"],
            true,
            Some("https://app.example.com"),
            true,
        ),
        (
            &["https://*.example.com:443"],
            true,
            Some("https://app.example.com:8443"),
            false,
        ),
        (
            &["https://*.example.com:*"],
            true,
            Some("http://app.example.com"),
            false,
        ),
        (
            &["https://*.example.com:*"],
            true,
            Some("https://example.com.evil.io"),
            false,
        ),
        (
            &["*://localhost:*"],
            true,
            Some("http://localhost:3000"),
            true,
        ),
        (&["*://localhost:*"], true, Some("https://LOCALHOST"), true),
        (
            &["http://127.0.0.1:8080"],
            true,
            Some("http://127.0.0.1:8080"),
            true,
        ),
        (
            &["http://127.0.0.1:8080"],
            true,
            Some("http://127.0.0.1:8081"),
            false,
        ),
        (
            &["http://localhost:80"],
            true,
            Some("http://localhost"),
            true,
        ),
        (
            &["http://[::1]:*", "http://::1:*"],
            true,
            Some("http://[::1]:9000"),
            true,
        ),
        // no port in the pattern: never matches (Autobahn adds the port)
        (
            &["https://*.example.com"],
            true,
            Some("https://app.example.com"),
            false,
        ),
        // path, query and userinfo are not part of an origin
        (
            &["http://a.io:80"],
            true,
            Some("http://user@a.io/x?y"),
            true,
        ),
        // malformed origins are refused
        (&["*"], true, Some("example.com"), false),
        (&["*"], true, Some("http://"), false),
        (&["*"], true, Some("http://a.io:99999"), false),
        (&["*"], true, Some("http://a.io:x"), false),
    ];

    #[test]
    fn origins_are_admitted_as_crossbar_admits_them() {
        for &(allowed, allow_null, origin, admitted) in CASES {
            let result = policy(allowed, allow_null).check(origin);
            assert_eq!(
                result.is_ok(),
                admitted,
                "allowed_origins {allowed:?}, allow_null_origin {allow_null}, Origin {origin:?}: {result:?}"
            );
        }
    }

    #[test]
    fn refusals_say_why() {
        let p = policy(&["http://a.io:80"], false);
        assert_eq!(p.check(Some("null")), Err(OriginRefused::Null));
        assert_eq!(
            p.check(Some("http://b.io")),
            Err(OriginRefused::NotAllowed("http://b.io".into()))
        );
        assert_eq!(
            p.check(Some("b.io")),
            Err(OriginRefused::Malformed("b.io".into()))
        );
    }

    #[test]
    fn the_default_is_crossbars() {
        let p = OriginPolicy::default();
        assert_eq!(p.allowed, vec!["*".to_owned()]);
        assert!(p.allow_null);
    }

    #[test]
    fn patterns_without_a_port_are_found() {
        assert!(!pattern_can_match("https://*.example.com"));
        assert!(!pattern_can_match("http://localhost:"));
        assert!(pattern_can_match("https://*.example.com:443"));
        assert!(pattern_can_match("https://*"));
        assert!(pattern_can_match("*"));
        assert!(pattern_can_match("*.example.com"));
    }

    #[test]
    fn wildcards_match_whole_texts() {
        assert!(wildcard_match("*", "anything"));
        assert!(wildcard_match("a*b*c", "axxbyyc"));
        assert!(!wildcard_match("a*b*c", "axxbyy"));
        assert!(!wildcard_match("abc", "abcd"));
        assert!(wildcard_match("a**c", "ac"));
    }
}
