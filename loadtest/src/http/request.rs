//! The requests the HTTP scenario sends: a POST of one JSON body to a
//! REST bridge path, optionally signed as Crossbar.io defines it (query
//! parameters `key`, `timestamp`, `seq`, `nonce`, `signature` =
//! URL-safe Base64 with padding of HMAC-SHA256(secret, key ‖ timestamp ‖
//! seq ‖ nonce ‖ body)).

use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Where the requests go: `http://host:port/path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpUrl {
    /// `host:port`, to connect to and for the Host field.
    pub(crate) authority: String,
    /// The request path, with its leading `/`.
    pub(crate) path: String,
}

impl HttpUrl {
    /// Parses `http://host:port/path` (`https` is not spoken).
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            format!("{url}: the http scenario takes http://host:port/path, e.g. http://127.0.0.1:8080/publish")
        })?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let port = authority
            .rsplit_once(':')
            .map(|(_, port)| port)
            .ok_or_else(|| {
                format!("{url}: the URL needs a port, e.g. http://127.0.0.1:8080/publish")
            })?;
        port.parse::<u16>()
            .map_err(|_| format!("{url}: '{port}' is not a port number"))?;
        Ok(Self {
            authority: authority.to_owned(),
            path: format!("/{path}"),
        })
    }
}

/// The key and secret of a signed REST bridge path.
#[derive(Debug, Clone)]
pub(crate) struct Signing {
    /// The `key` the path is configured with.
    pub(crate) key: String,
    /// Its `secret`.
    pub(crate) secret: String,
}

/// Writes one connection's requests. Each signed request gets the next
/// `seq` and a nonce unique to this run and connection.
pub(crate) struct RequestWriter {
    url: HttpUrl,
    body: Vec<u8>,
    signing: Option<Signing>,
    /// Unsigned requests are all the same bytes, built once.
    unsigned: Vec<u8>,
    nonce_base: u128,
    seq: u64,
}

impl RequestWriter {
    /// A writer for connection `connection` of a run that started at
    /// `run_started_us` (Unix microseconds), which keeps nonces of two runs
    /// against one router apart.
    pub(crate) fn new(
        url: &HttpUrl,
        body: &[u8],
        signing: Option<Signing>,
        connection: usize,
        run_started_us: u128,
    ) -> Self {
        let mut writer = Self {
            url: url.clone(),
            body: body.to_vec(),
            signing: None,
            unsigned: Vec::new(),
            nonce_base: run_started_us * 1_000_000_000_000 + connection as u128 * 1_000_000_000,
            seq: 0,
        };
        let mut unsigned = Vec::new();
        writer.write_with_query(&mut unsigned, "");
        writer.unsigned = unsigned;
        writer.signing = signing;
        writer
    }

    /// Appends the next request to `out`.
    pub(crate) fn write(&mut self, out: &mut Vec<u8>) {
        let Some(signing) = &self.signing else {
            out.extend_from_slice(&self.unsigned);
            return;
        };
        self.seq += 1;
        let timestamp = utc_timestamp(now_us());
        let nonce = (self.nonce_base + u128::from(self.seq)).to_string();
        let seq = self.seq.to_string();
        let signature = signature(
            signing.secret.as_bytes(),
            &[
                signing.key.as_bytes(),
                timestamp.as_bytes(),
                seq.as_bytes(),
                nonce.as_bytes(),
                &self.body,
            ],
        );
        // Base64's `=` padding and the key are percent-encoded as a form
        // encoder would; the timestamp's `:` may stay.
        let query = format!(
            "key={}&timestamp={timestamp}&seq={seq}&nonce={nonce}&signature={}",
            percent_encode(&signing.key),
            percent_encode(&signature)
        );
        self.write_with_query(out, &query);
    }

    fn write_with_query(&self, out: &mut Vec<u8>, query: &str) {
        let separator = if query.is_empty() { "" } else { "?" };
        // Writing into a Vec cannot fail.
        let _ = write!(
            out,
            "POST {}{separator}{query} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.url.path,
            self.url.authority,
            self.body.len()
        );
        out.extend_from_slice(&self.body);
    }
}

/// The signature of `parts` with `secret`, as Crossbar.io's signed clients
/// compute it.
pub(crate) fn signature(secret: &[u8], parts: &[&[u8]]) -> String {
    // HMAC takes keys of any length: this never fails.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
    for part in parts {
        mac.update(part);
    }
    base64::engine::general_purpose::URL_SAFE.encode(mac.finalize().into_bytes())
}

/// `text` with every byte but unreserved ones as `%XX`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `at_us` (Unix microseconds) as Crossbar.io's `%Y-%m-%dT%H:%M:%S.%fZ`.
pub(crate) fn utc_timestamp(at_us: u128) -> String {
    let seconds = i64::try_from(at_us / 1_000_000).unwrap_or(i64::MAX);
    let micros = at_us % 1_000_000;
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let of_day = seconds.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// The date of day `days` after 1970-01-01, proleptic Gregorian (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Now, in microseconds since the Unix epoch.
pub(crate) fn now_us() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_the_documented_vector() {
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
        assert_eq!(signed, "JEo0zRMNAl5h156cjsq_mAGoqzo8CH6DyZrQsxmJL5g=");
    }

    #[test]
    fn timestamps_are_utc_in_crossbars_format() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            utc_timestamp(1_318_611_591_123_000),
            "2011-10-14T16:59:51.123000Z"
        );
        assert_eq!(
            utc_timestamp(1_709_164_800_000_001),
            "2024-02-29T00:00:00.000001Z"
        );
        assert_eq!(
            utc_timestamp(4_102_444_799_999_999),
            "2099-12-31T23:59:59.999999Z"
        );
    }

    #[test]
    fn urls_name_what_is_wrong() {
        let url = HttpUrl::parse("http://127.0.0.1:8080/publish").unwrap();
        assert_eq!(
            (url.authority.as_str(), url.path.as_str()),
            ("127.0.0.1:8080", "/publish")
        );
        assert!(HttpUrl::parse("ws://x:1/").unwrap_err().contains("http://"));
        assert!(HttpUrl::parse("http://x/p").unwrap_err().contains("port"));
        assert!(HttpUrl::parse("http://x:y/p").unwrap_err().contains("'y'"));
    }

    #[test]
    fn unsigned_requests_are_one_post_and_signed_ones_carry_fresh_parameters() {
        let url = HttpUrl::parse("http://h:1/p").unwrap();
        let mut plain = RequestWriter::new(&url, b"{}", None, 0, 0);
        let mut out = Vec::new();
        plain.write(&mut out);
        assert_eq!(
            out,
            b"POST /p HTTP/1.1\r\nHost: h:1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        );
        let signing = Signing {
            key: "k".into(),
            secret: "s".into(),
        };
        let mut signed = RequestWriter::new(&url, b"{}", Some(signing), 3, 7);
        let (mut first, mut second) = (Vec::new(), Vec::new());
        signed.write(&mut first);
        signed.write(&mut second);
        let first = String::from_utf8(first).unwrap();
        let second = String::from_utf8(second).unwrap();
        assert!(first.starts_with("POST /p?key=k&timestamp="), "{first}");
        assert!(
            first.contains("&seq=1&nonce=7003000000001&signature="),
            "{first}"
        );
        assert!(
            second.contains("&seq=2&nonce=7003000000002&signature="),
            "{second}"
        );
        assert!(
            first.contains("%3D HTTP/1.1\r\n"),
            "the padding is encoded: {first}"
        );
    }
}
