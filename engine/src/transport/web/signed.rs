//! Signed REST bridge requests, as Crossbar.io defines them: the query
//! parameters `key`, `timestamp`, `seq`, `nonce` and `signature`, where
//! `signature` is the URL-safe Base64 (with padding) of
//! HMAC-SHA256(secret, key ‖ timestamp ‖ seq ‖ nonce ‖ body).
//!
//! The checks run in Crossbar.io's order with its status codes and
//! messages. Two things are ringbar's own: the signature is compared in
//! constant time, and a nonce seen within the timestamp window is refused
//! (see [`SeenNonces`](crate::config::SeenNonces)).

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::rest::Denial;
use crate::config::RestOptions;
use crate::nonces::Recorded;

/// The query parameters a REST bridge request may be signed with, each the
/// first value of its name, decoded as Twisted's `request.args` are.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct SignedParams<'a> {
    key: Option<Cow<'a, [u8]>>,
    timestamp: Option<Cow<'a, [u8]>>,
    seq: Option<Cow<'a, [u8]>>,
    nonce: Option<Cow<'a, [u8]>>,
    signature: Option<Cow<'a, [u8]>>,
}

impl<'a> SignedParams<'a> {
    /// Reads `query` (the request target after `?`): `&`-separated
    /// `name=value` pairs, percent-decoded with `+` as a space; a pair
    /// without `=` has an empty value.
    pub(super) fn parse(query: &'a str) -> Self {
        let mut params = Self::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match &*form_decode(name) {
                b"key" => &mut params.key,
                b"timestamp" => &mut params.timestamp,
                b"seq" => &mut params.seq,
                b"nonce" => &mut params.nonce,
                b"signature" => &mut params.signature,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(form_decode(value));
            }
        }
        params
    }

    /// Checks the parameters against `options` and `body`, as Crossbar.io
    /// does; a valid signed request's nonce is remembered.
    pub(super) fn check(&self, options: &RestOptions, body: &[u8]) -> Result<(), Denial> {
        let signing = options.signing.as_ref();
        let required = |reason: &str| match signing {
            Some(_) => Err(Denial::missing(reason)),
            None => Ok(()),
        };
        if self.key.is_none() {
            required("'key' field missing")?;
        }
        let timestamp_us = match &self.timestamp {
            Some(text) => {
                let at = parse_timestamp(text).ok_or_else(|| {
                    Denial::invalid(&format!(
                        "invalid timestamp '{}' (must be UTC/ISO-8601, e.g. '2011-10-14T16:59:51.123Z')",
                        String::from_utf8_lossy(text)
                    ))
                })?;
                let limit_s = options.timestamp_delta_limit_s;
                if limit_s > 0 && at.abs_diff(now_us()) > u128::from(limit_s) * 1_000_000 {
                    return Err(Denial::new(400, "Request expired, too old timestamp."));
                }
                Some(at)
            }
            None => {
                required("signed request required, but mandatory 'timestamp' field missing")?;
                None
            }
        };
        if let Some(text) = &self.seq {
            parse_int(text).ok_or_else(|| {
                Denial::invalid(&format!(
                    "invalid sequence number '{}' (must be an integer)",
                    String::from_utf8_lossy(text)
                ))
            })?;
        } else {
            required("'seq' field missing")?;
        }
        let nonce = match &self.nonce {
            Some(text) => Some(parse_int(text).ok_or_else(|| {
                Denial::invalid(&format!(
                    "invalid nonce '{}' (must be an integer)",
                    String::from_utf8_lossy(text)
                ))
            })?),
            None => {
                required("'nonce' field missing")?;
                None
            }
        };
        if self.signature.is_none() {
            required("'signature' field missing")?;
        }
        let (Some(signing), Some(key), Some(timestamp), Some(seq), Some(nonce_text), Some(given)) = (
            signing,
            &self.key,
            &self.timestamp,
            &self.seq,
            &self.nonce,
            &self.signature,
        ) else {
            return Ok(());
        };
        if **key != *signing.key.as_bytes() {
            return Err(Denial::new(401, "REST bridge signature key not valid."));
        }
        let expected = signature(
            signing.secret.as_bytes(),
            &[key, timestamp, seq, nonce_text, body],
        );
        if !bool::from(given.len().ct_eq(&expected.len())) || !bool::from(given.ct_eq(&expected)) {
            return Err(Denial::new(401, "REST bridge signature secret not valid."));
        }
        let (Some(at), Some(nonce)) = (timestamp_us, nonce) else {
            return Ok(());
        };
        let limit_s = options.timestamp_delta_limit_s;
        if limit_s == 0 {
            // Without a window a nonce would have to be kept forever.
            return Ok(());
        }
        let now_s = now_us() / 1_000_000;
        let expires_s = u64::try_from(at / 1_000_000)
            .unwrap_or(u64::MAX)
            .saturating_add(limit_s + 1);
        match signing
            .seen
            .record(nonce, expires_s, u64::try_from(now_s).unwrap_or(u64::MAX))
        {
            Recorded::New => Ok(()),
            Recorded::Replayed => Err(Denial::new(
                401,
                format!(
                    "REST bridge signature was invalid (nonce '{}' was used already within the timestamp window: a replayed request).",
                    String::from_utf8_lossy(nonce_text)
                ),
            )),
            Recorded::Full => Err(Denial::new(
                503,
                "Too many signed requests within the timestamp window: retry later.",
            )),
        }
    }
}

/// The signature of `parts` with `secret`: URL-safe Base64, with padding,
/// of their HMAC-SHA256.
pub(super) fn signature(secret: &[u8], parts: &[&[u8]]) -> [u8; 44] {
    // HMAC takes keys of any length: this never fails.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
    for part in parts {
        mac.update(part);
    }
    let digest = mac.finalize().into_bytes();
    let mut out = [0u8; 44];
    // 32 bytes are 44 Base64 characters: this never fails either.
    let _ = base64::engine::general_purpose::URL_SAFE.encode_slice(digest, &mut out);
    out
}

/// Decodes one `application/x-www-form-urlencoded` name or value: `+` is
/// a space, `%XX` a byte; a `%` without two hex digits stays as it is.
fn form_decode(text: &str) -> Cow<'_, [u8]> {
    let bytes = text.as_bytes();
    if !bytes.iter().any(|&b| b == b'%' || b == b'+') {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let decoded = match b {
            b'+' => Some((b' ', 1)),
            b'%' => bytes
                .get(i + 1..i + 3)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .map(|byte| (byte, 3)),
            _ => None,
        };
        let (byte, used) = decoded.unwrap_or((b, 1));
        out.push(byte);
        i += used;
    }
    Cow::Owned(out)
}

/// An integer as Python's `int()` reads one: surrounding whitespace, a
/// sign, digits with single `_` between them. `None` beyond 128 bits.
fn parse_int(text: &[u8]) -> Option<i128> {
    let text = text.trim_ascii();
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    if digits.is_empty() || digits.starts_with(b"_") || digits.ends_with(b"_") {
        return None;
    }
    let mut value: i128 = 0;
    let mut underscore = false;
    for &b in digits {
        if b == b'_' {
            if underscore {
                return None;
            }
            underscore = true;
            continue;
        }
        underscore = false;
        let digit = i128::from(b.checked_sub(b'0').filter(|d| *d < 10)?);
        value = value.checked_mul(10)?.checked_add(digit)?;
    }
    Some(if negative { -value } else { value })
}

/// A timestamp as Python's `strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")`
/// reads it (1-2 digit fields, 1-6 fraction digits), in microseconds
/// since the Unix epoch, UTC.
fn parse_timestamp(text: &[u8]) -> Option<u128> {
    let text = std::str::from_utf8(text).ok()?;
    let rest = text.strip_suffix('Z')?;
    let (date, time) = rest.split_once('T')?;
    let (time, fraction) = time.split_once('.')?;
    let mut date = date.splitn(3, '-');
    let year = field(date.next()?, 4, 4)?;
    let month = field(date.next()?, 1, 2)?;
    let day = field(date.next()?, 1, 2)?;
    let mut time = time.splitn(3, ':');
    let hour = field(time.next()?, 1, 2)?;
    let minute = field(time.next()?, 1, 2)?;
    let second = field(time.next()?, 1, 2)?;
    let micros = field(fraction, 1, 6)? * 10u64.pow(6 - u32::try_from(fraction.len()).ok()?);
    if !(1..=12).contains(&month) || hour > 23 || minute > 59 || second > 61 {
        return None;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day == 0 || day > days_in_month || year == 0 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds =
        days.checked_mul(86_400)? + i64::try_from(hour * 3600 + minute * 60 + second).ok()?;
    let micros = i128::from(seconds) * 1_000_000 + i128::from(micros);
    // Before 1970 is allowed (and far from now, so it will be expired).
    Some(u128::try_from(micros.max(0)).unwrap_or(0))
}

/// A field of `min..=max` ASCII digits.
fn field(text: &str, min: usize, max: usize) -> Option<u64> {
    if !(min..=max).contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar
/// (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: u64, month: u64, day: u64) -> i64 {
    let (year, month, day) = (year as i64, month as i64, day as i64);
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Now, in microseconds since the Unix epoch.
fn now_us() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RestSigning, SeenNonces};

    #[test]
    fn the_documented_vector_signs_as_crossbar_does() {
        let signed = signature(
            b"foobar",
            &[
                b"bazapp",
                b"2011-10-14T16:59:51.123Z",
                b"1",
                b"42",
                br#"{"topic":"com.x"}"#,
            ],
        );
        assert_eq!(&signed, b"JEo0zRMNAl5h156cjsq_mAGoqzo8CH6DyZrQsxmJL5g=");
    }

    #[test]
    fn query_values_decode_as_twisted_does_and_the_first_wins() {
        let params = SignedParams::parse(
            "key=a%20b&seq=1&seq=2&nonce&signature=x%3D+y=&other=1&timestamp=t",
        );
        assert_eq!(params.key.as_deref(), Some(&b"a b"[..]));
        assert_eq!(params.seq.as_deref(), Some(&b"1"[..]));
        assert_eq!(params.nonce.as_deref(), Some(&b""[..]));
        assert_eq!(params.signature.as_deref(), Some(&b"x= y="[..]));
        assert_eq!(params.timestamp.as_deref(), Some(&b"t"[..]));
        assert_eq!(&*form_decode("%zz%4"), b"%zz%4");
    }

    #[test]
    fn timestamps_read_as_strptime_reads_them() {
        assert_eq!(
            parse_timestamp(b"2011-10-14T16:59:51.123Z"),
            Some(1_318_611_591_123_000)
        );
        assert_eq!(parse_timestamp(b"1970-1-1T0:0:0.5Z"), Some(500_000));
        assert_eq!(
            parse_timestamp(b"2024-02-29T00:00:00.000001Z"),
            Some(1_709_164_800_000_001)
        );
        for bad in [
            "2023-02-29T00:00:00.0Z",
            "2011-10-14T16:59:51Z",
            "2011-10-14 16:59:51.123Z",
            "2011-10-14T16:59:51.1234567Z",
            "2011-13-14T16:59:51.1Z",
            "2011-10-14T24:00:00.1Z",
            "11-10-14T16:59:51.1Z",
        ] {
            assert_eq!(parse_timestamp(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn integers_read_as_python_int_reads_them() {
        assert_eq!(parse_int(b" 42 "), Some(42));
        assert_eq!(parse_int(b"-7"), Some(-7));
        assert_eq!(parse_int(b"1_000"), Some(1000));
        for bad in [
            &b""[..],
            b"x",
            b"1__0",
            b"_1",
            b"1.5",
            b"99999999999999999999999999999999999999999",
        ] {
            assert_eq!(parse_int(bad), None, "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_query_and_body_are_checked_without_panic(
            query in "[a-z%=&+0-9A-F._:TZ-]{0,80}",
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..32),
        ) {
            let params = SignedParams::parse(&query);
            let _ = params.check(&signed_options(300), &body);
            let _ = params.check(&RestOptions::default(), &body);
        }

        #[test]
        fn any_timestamp_or_integer_text_parses_without_panic(text in "\\PC{0,40}") {
            let _ = parse_timestamp(text.as_bytes());
            let _ = parse_int(text.as_bytes());
        }

        #[test]
        fn timestamps_strptime_takes_round_trip(
            seconds in 0u64..4_102_444_800,
            millis in 0u64..1000,
        ) {
            let text = format_utc(seconds, millis);
            proptest::prop_assert_eq!(
                parse_timestamp(text.as_bytes()),
                Some(u128::from(seconds) * 1_000_000 + u128::from(millis) * 1000)
            );
        }
    }

    /// `seconds` since 1970 plus `millis`, as Crossbar.io's clients write
    /// a timestamp.
    fn format_utc(seconds: u64, millis: u64) -> String {
        let days = i64::try_from(seconds / 86_400).unwrap();
        let in_day = seconds % 86_400;
        let mut year = 1970;
        while days_from_civil(year + 1, 1, 1) <= days {
            year += 1;
        }
        let mut month = 1;
        while month < 12 && days_from_civil(year, month + 1, 1) <= days {
            month += 1;
        }
        let day = days - days_from_civil(year, month, 1) + 1;
        format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            in_day / 3600,
            in_day / 60 % 60,
            in_day % 60
        )
    }

    fn signed_options(limit_s: u64) -> RestOptions {
        RestOptions {
            signing: Some(RestSigning {
                key: "bazapp".into(),
                secret: "foobar".into(),
                seen: SeenNonces::default(),
            }),
            timestamp_delta_limit_s: limit_s,
            ..RestOptions::default()
        }
    }

    fn now_text() -> String {
        let now = now_us();
        let seconds = u64::try_from(now / 1_000_000).unwrap();
        format_utc(seconds, u64::try_from(now % 1_000_000 / 1000).unwrap())
    }

    fn query(timestamp: &str, nonce: &str, body: &[u8], secret: &[u8]) -> String {
        let signed = signature(
            secret,
            &[
                b"bazapp",
                timestamp.as_bytes(),
                b"1",
                nonce.as_bytes(),
                body,
            ],
        );
        format!(
            "key=bazapp&timestamp={timestamp}&seq=1&nonce={nonce}&signature={}",
            std::str::from_utf8(&signed).unwrap()
        )
    }

    fn status(query: &str, options: &RestOptions, body: &[u8]) -> u16 {
        SignedParams::parse(query)
            .check(options, body)
            .map_or_else(|d| d.status, |()| 200)
    }

    #[test]
    fn signed_requests_are_checked_and_replays_refused() {
        let options = signed_options(300);
        let body = br#"{"topic":"com.x"}"#;
        let now = now_text();
        let good = query(&now, "42", body, b"foobar");
        assert_eq!(status(&good, &options, body), 200);
        assert_eq!(status(&good, &options, body), 401, "replayed");
        assert_eq!(
            status(&query(&now, "43", body, b"wrong"), &options, body),
            401
        );
        assert_eq!(
            status(&query(&now, "44", body, b"foobar"), &options, b"{}"),
            401
        );
        let old = query("2011-10-14T16:59:51.123Z", "45", body, b"foobar");
        assert_eq!(status(&old, &options, body), 400);
        assert_eq!(status(&old.replace("bazapp", "other"), &options, body), 400);
        let unknown_key = query(&now, "46", body, b"foobar").replace("key=bazapp", "key=other");
        assert_eq!(status(&unknown_key, &options, body), 401);
        assert_eq!(status("key=bazapp&seq=1", &options, body), 400);
        assert_eq!(
            status(&good.replace("nonce=42", "nonce=x"), &options, body),
            400
        );
        // Unsigned services check only what is given.
        let open = RestOptions::default();
        assert_eq!(status("", &open, body), 200);
        assert_eq!(status("seq=x", &open, body), 400);
        // Without a window, nonces are not kept (nothing would bound them).
        let unbounded = signed_options(0);
        let ancient = query("2011-10-14T16:59:51.123Z", "42", body, b"foobar");
        assert_eq!(status(&ancient, &unbounded, body), 200);
        assert_eq!(status(&ancient, &unbounded, body), 200);
    }
}
