//! The spec's URI rules, checked by hand in one pass without allocation.
//!
//! The spec (and Autobahn/Crossbar, which route by it) states the rules as
//! regular expressions; [`check`] accepts exactly what they accept:
//!
//! | rule | no empty component | empty last component | any empty component |
//! |---|---|---|---|
//! | loose | `^([^\s\.#]+\.)*([^\s\.#]+)$` | `^([^\s\.#]+\.)*([^\s\.#]*)$` | `^(([^\s\.#]+\.)\|\.)*([^\s\.#]+)?$` |
//! | strict | `^([0-9a-z_]+\.)*([0-9a-z_]+)$` | `^([0-9a-z_]+\.)*([0-9a-z_]*)$` | `^(([0-9a-z_]+\.)\|\.)*([0-9a-z_]+)?$` |
//!
//! Two details of those Python regexes, decided here:
//! - `\s` is Python's Unicode whitespace (`str.isspace`), which is Unicode
//!   `White_Space` plus U+001C..=U+001F; [`is_python_space`] lists it.
//! - Python's `$` also matches before a final `\n`, so Autobahn accepts
//!   `"com.foo\n"`. That is an accident of the regex engine, not a rule: a
//!   newline is whitespace, and ringbar refuses it everywhere.

use thiserror::Error;

/// Which of the spec's two character rules a URI is held to.
///
/// Both forbid `.` (the separator), `#` (reserved for routers) and
/// whitespace inside a component; strict also limits components to
/// `[0-9a-z_]`, the spec's recommendation. The default is strict, as in
/// Crossbar.io's `RouterOptions`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum UriCheck {
    /// Components match `[0-9a-z_]+` (empty ones where the pattern allows).
    #[default]
    Strict,
    /// Components contain no whitespace, `.` or `#`.
    Loose,
}

/// What is wrong with a URI or URI pattern; maps to
/// `wamp.error.invalid_uri`. Component indexes count from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Error)]
pub enum UriError {
    /// The URI is the empty string where a URI must have a component.
    #[error("empty URI")]
    Empty,
    /// A component is empty where the rule does not allow it.
    #[error("empty URI component at position {index}")]
    EmptyComponent {
        /// Which component, counting from 0.
        index: usize,
    },
    /// A component holds a character the rule forbids.
    #[error("invalid character {ch:?} in URI component {index}")]
    InvalidChar {
        /// The first offending character.
        ch: char,
        /// Which component, counting from 0.
        index: usize,
    },
}

/// Which components may be empty; one per family of the spec's regexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EmptyComponents {
    /// A concrete URI: every component non-empty.
    Forbidden,
    /// A prefix pattern: only the last component may be empty (`com.app.`,
    /// and the empty string itself).
    LastOnly,
    /// A wildcard pattern: any component may be empty.
    Allowed,
}

/// Checks `uri` against `rule`, allowing empty components as `empty` says.
pub(crate) fn check(uri: &str, rule: UriCheck, empty: EmptyComponents) -> Result<(), UriError> {
    let bytes = uri.as_bytes();
    let mut index = 0;
    let mut component_start = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        if byte == b'.' {
            if at == component_start && empty != EmptyComponents::Allowed {
                return Err(UriError::EmptyComponent { index });
            }
            index += 1;
            component_start = at + 1;
        } else if !byte_allowed(rule, byte, uri, at) {
            return Err(UriError::InvalidChar {
                ch: char_at(uri, at).unwrap_or(char::REPLACEMENT_CHARACTER),
                index,
            });
        }
    }
    let last_is_empty = component_start == bytes.len();
    match empty {
        EmptyComponents::Forbidden if bytes.is_empty() => Err(UriError::Empty),
        EmptyComponents::Forbidden if last_is_empty => Err(UriError::EmptyComponent { index }),
        _ => Ok(()),
    }
}

/// Whether the character starting (or continuing) at `uri[at]` may stand in
/// a component. Only ASCII and the lead octets of non-ASCII whitespace need a
/// look: every other octet of valid UTF-8 belongs to an allowed character in
/// the loose rule, and to a forbidden one in the strict rule.
fn byte_allowed(rule: UriCheck, byte: u8, uri: &str, at: usize) -> bool {
    match rule {
        UriCheck::Strict => matches!(byte, b'0'..=b'9' | b'a'..=b'z' | b'_'),
        UriCheck::Loose => match byte {
            b'#' | b'\t'..=b'\r' | 0x1C..=b' ' => false,
            // Lead octets of U+0085, U+00A0, U+1680, U+2000.., U+3000: never
            // continuation octets, so `at` is a char boundary here.
            0xC2 | 0xE1 | 0xE2 | 0xE3 => !char_at(uri, at).is_some_and(is_python_space),
            _ => true,
        },
    }
}

/// The character starting at byte `at`, if `at` is a char boundary.
fn char_at(uri: &str, at: usize) -> Option<char> {
    uri.get(at..).and_then(|rest| rest.chars().next())
}

/// Python's `\s` for `str` patterns (`str.isspace`), which the spec's regexes
/// use: Unicode `White_Space` plus the four separators U+001C..=U+001F.
/// Listed rather than taken from `char::is_whitespace`, so a Unicode update
/// cannot silently change which URIs are valid.
pub(crate) const fn is_python_space(ch: char) -> bool {
    matches!(
        ch,
        '\t'..='\r'
            | '\u{1C}'..=' '
            | '\u{85}'
            | '\u{A0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200A}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202F}'
            | '\u{205F}'
            | '\u{3000}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_space_is_white_space_plus_file_separators() {
        for ch in (0..=0x10FFFF).filter_map(char::from_u32) {
            let expected = ch.is_whitespace() || ('\u{1C}'..='\u{1F}').contains(&ch);
            assert_eq!(is_python_space(ch), expected, "{:#x}", ch as u32);
        }
    }

    #[test]
    fn loose_refuses_every_non_ascii_space() {
        for ch in (0x80..=0x10FFFF)
            .filter_map(char::from_u32)
            .filter(|c| is_python_space(*c))
        {
            let uri = format!("a{ch}b");
            assert_eq!(
                check(&uri, UriCheck::Loose, EmptyComponents::Forbidden),
                Err(UriError::InvalidChar { ch, index: 0 })
            );
        }
        // Same lead octets, not whitespace.
        for uri in ["a\u{A9}b", "a\u{1681}", "\u{2010}", "\u{3001}x"] {
            assert_eq!(
                check(uri, UriCheck::Loose, EmptyComponents::Forbidden),
                Ok(())
            );
        }
    }

    #[test]
    fn empty_string_per_family() {
        for rule in [UriCheck::Strict, UriCheck::Loose] {
            assert_eq!(
                check("", rule, EmptyComponents::Forbidden),
                Err(UriError::Empty)
            );
            assert_eq!(check("", rule, EmptyComponents::LastOnly), Ok(()));
            assert_eq!(check("", rule, EmptyComponents::Allowed), Ok(()));
        }
    }
}
