//! The `Sec-WebSocket-Extensions` header (RFC 6455 §9.1): a list of
//! extensions, each with parameters, values as tokens or quoted strings.

use crate::websocket::handshake::http::{is_tchar, is_token};

/// One element of an extension list: an extension's name and its
/// parameters, in the order sent.
///
/// A client may offer the same extension several times, most preferred
/// first; each offer is one `Extension`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extension {
    /// The extension token, such as `permessage-deflate`.
    pub name: String,
    /// `name` or `name=value`; a quoted value is unquoted.
    pub params: Vec<(String, Option<String>)>,
}

/// Why an extension header could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExtensionSyntaxError {
    /// An extension name or parameter name is not a token.
    #[error("extension or parameter name is not a token")]
    ExpectedToken,
    /// A parameter value is neither a token nor a quoted string whose
    /// content is a token (RFC 6455 §9.1).
    #[error("extension parameter value is not a token")]
    InvalidValue,
    /// A quoted string is not closed.
    #[error("unterminated quoted string in extension parameter")]
    UnterminatedQuote,
    /// More extensions or parameters than [`MAX_EXTENSION_ITEMS`].
    #[error("more than {MAX_EXTENSION_ITEMS} extensions and parameters")]
    TooManyItems,
}

/// The most extensions plus parameters read from one request; far above
/// what a client sends (Chrome and Firefox offer one extension with one
/// parameter), it caps what a peer can make us allocate.
pub const MAX_EXTENSION_ITEMS: usize = 64;

/// Reads the extension lists of every `Sec-WebSocket-Extensions` field
/// value, in order: the client's order of preference.
///
/// Empty list elements are skipped, as RFC 9110 §5.6.1 asks of lists.
pub fn parse_extensions<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Extension>, ExtensionSyntaxError> {
    let mut extensions = Vec::new();
    let mut items = 0;
    for value in values {
        let mut rest = value;
        loop {
            rest = skip_space(rest);
            if let Some(after) = rest.strip_prefix(',') {
                rest = after;
                continue;
            }
            if rest.is_empty() {
                break;
            }
            let (extension, after) = parse_extension(rest, &mut items)?;
            extensions.push(extension);
            rest = skip_space(after);
            match rest.strip_prefix(',') {
                Some(after) => rest = after,
                None if rest.is_empty() => break,
                None => return Err(ExtensionSyntaxError::ExpectedToken),
            }
        }
    }
    Ok(extensions)
}

/// Reads one extension up to the `,` that ends it (or the end).
fn parse_extension<'a>(
    s: &'a str,
    items: &mut usize,
) -> Result<(Extension, &'a str), ExtensionSyntaxError> {
    let (name, mut rest) = take_token(s)?;
    count(items)?;
    let mut params = Vec::new();
    loop {
        rest = skip_space(rest);
        let Some(after) = rest.strip_prefix(';') else {
            break;
        };
        let (param, after) = take_token(skip_space(after))?;
        count(items)?;
        rest = skip_space(after);
        let value = match rest.strip_prefix('=') {
            Some(after) => {
                let (value, after) = take_value(skip_space(after))?;
                rest = after;
                Some(value)
            }
            None => None,
        };
        params.push((param.to_owned(), value));
    }
    let extension = Extension {
        name: name.to_owned(),
        params,
    };
    Ok((extension, rest))
}

fn count(items: &mut usize) -> Result<(), ExtensionSyntaxError> {
    *items += 1;
    if *items > MAX_EXTENSION_ITEMS {
        return Err(ExtensionSyntaxError::TooManyItems);
    }
    Ok(())
}

/// A parameter value: a token, or a quoted string whose content, with
/// backslash escapes removed, is a token.
fn take_value(s: &str) -> Result<(String, &str), ExtensionSyntaxError> {
    let Some(quoted) = s.strip_prefix('"') else {
        let (token, rest) = take_token(s).map_err(|_| ExtensionSyntaxError::InvalidValue)?;
        return Ok((token.to_owned(), rest));
    };
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => {
                if !is_token(&value) {
                    return Err(ExtensionSyntaxError::InvalidValue);
                }
                let rest = quoted.get(at + 1..).unwrap_or_default();
                return Ok((value, rest));
            }
            '\\' => match chars.next() {
                Some((_, escaped)) => value.push(escaped),
                None => return Err(ExtensionSyntaxError::UnterminatedQuote),
            },
            _ => value.push(c),
        }
    }
    Err(ExtensionSyntaxError::UnterminatedQuote)
}

/// The token at the front of `s` and what follows it.
fn take_token(s: &str) -> Result<(&str, &str), ExtensionSyntaxError> {
    let end = s.bytes().position(|b| !is_tchar(b)).unwrap_or(s.len());
    match (s.get(..end), s.get(end..)) {
        (Some(token), Some(rest)) if !token.is_empty() => Ok((token, rest)),
        _ => Err(ExtensionSyntaxError::ExpectedToken),
    }
}

fn skip_space(s: &str) -> &str {
    s.trim_start_matches([' ', '\t'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(name: &str, params: &[(&str, Option<&str>)]) -> Extension {
        Extension {
            name: name.to_owned(),
            params: params
                .iter()
                .map(|(n, v)| ((*n).to_owned(), v.map(str::to_owned)))
                .collect(),
        }
    }

    #[test]
    fn several_offers_over_several_fields_in_order() {
        let parsed = parse_extensions([
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10, x-foo",
            " , permessage-deflate ;server_no_context_takeover ",
        ])
        .unwrap();
        assert_eq!(
            parsed,
            vec![
                ext(
                    "permessage-deflate",
                    &[
                        ("client_max_window_bits", None),
                        ("server_max_window_bits", Some("10"))
                    ]
                ),
                ext("x-foo", &[]),
                ext(
                    "permessage-deflate",
                    &[("server_no_context_takeover", None)]
                ),
            ]
        );
    }

    #[test]
    fn quoted_values_are_unquoted() {
        let parsed =
            parse_extensions(["permessage-deflate; server_max_window_bits = \"1\\0\""]).unwrap();
        assert_eq!(
            parsed,
            vec![ext(
                "permessage-deflate",
                &[("server_max_window_bits", Some("10"))]
            )]
        );
    }

    #[test]
    fn empty_header_is_an_empty_list() {
        assert_eq!(parse_extensions(["", " , "]).unwrap(), vec![]);
    }

    #[test]
    fn syntax_errors() {
        for (value, error) in [
            ("permessage-deflate;", ExtensionSyntaxError::ExpectedToken),
            ("permessage-deflate x", ExtensionSyntaxError::ExpectedToken),
            ("; a", ExtensionSyntaxError::ExpectedToken),
            ("a; b=", ExtensionSyntaxError::InvalidValue),
            ("a; b=\"c d\"", ExtensionSyntaxError::InvalidValue),
            ("a; b=\"\"", ExtensionSyntaxError::InvalidValue),
            ("a; b=\"c", ExtensionSyntaxError::UnterminatedQuote),
            ("a; b=\"c\\", ExtensionSyntaxError::UnterminatedQuote),
            ("a; b=c=d", ExtensionSyntaxError::ExpectedToken),
        ] {
            assert_eq!(parse_extensions([value]), Err(error), "{value:?}");
        }
    }

    #[test]
    fn item_count_is_bounded() {
        let many = "a; b".repeat(MAX_EXTENSION_ITEMS).replace("ba", "b, a");
        assert_eq!(
            parse_extensions([many.as_str()]),
            Err(ExtensionSyntaxError::TooManyItems)
        );
        let fits = vec!["a"; MAX_EXTENSION_ITEMS];
        assert_eq!(parse_extensions(fits).unwrap().len(), MAX_EXTENSION_ITEMS);
    }
}
