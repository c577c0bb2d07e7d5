//! WAMP-CRA: the router sends a JSON challenge, the client answers with
//! the base64 HMAC-SHA256 of it keyed with the shared secret. With `salt`,
//! the key is the base64 of PBKDF2-HMAC-SHA256 of the secret (the
//! password), and the CHALLENGE tells the client `salt`, `iterations` and
//! `keylen` so it can derive the same key.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use ringbar_protocol::value::{Dict, Value};
use sha2::Sha256;

use super::{
    Accepted, HelloInfo, Opening, Pending as AnyPending, Refusal, constant_time_eq, principal,
    provider_name, random_bytes, realm_allowed,
};
use crate::auth::config::{Pbkdf2Params, Provider, WampCraPrincipal};

/// The method's name in `authmethods`.
pub(super) const AUTHMETHOD: &str = "wampcra";

/// The message of every failed signature check.
const INVALID: &str = "invalid authid or WAMP-CRA signature";

/// A WAMP-CRA challenge sent.
pub struct Pending {
    /// The signature expected (raw HMAC bytes); `None` for an unknown
    /// authid, which fails like a wrong signature.
    expected: Option<([u8; 32], Accepted)>,
}

/// Starts WAMP-CRA: an authid is required.
pub(super) fn open(provider: &Provider<WampCraPrincipal>, hello: &HelloInfo<'_>) -> Opening {
    let Some(authid) = hello.authid else {
        return Opening::Refuse(Refusal::not_authorized(
            "wampcra authentication needs an authid in HELLO",
        ));
    };
    let nonce = match random_bytes::<16>() {
        Ok(n) => BASE64.encode(n),
        Err(refusal) => return Opening::Refuse(refusal),
    };
    let found = principal(provider, hello.realm, authid);
    if let Some(p) = &found
        && let Err(refusal) = realm_allowed(&p.grant, hello.realm)
    {
        return Opening::Refuse(refusal);
    }
    let authrole = found.as_ref().map_or("", |p| p.grant.role.as_str());
    let challenge = challenge_text(
        authid,
        authrole,
        hello.session,
        &nonce,
        &timestamp(hello.now),
    );
    let mut extra: Dict = [("challenge", Value::from(challenge.as_str()))]
        .into_iter()
        .collect();
    let expected = found.map(|p| {
        if let Some(params) = p.salt() {
            extra.insert("salt", params.salt.as_str());
            extra.insert("iterations", u64::from(params.iterations));
            extra.insert("keylen", u64::from(params.keylen));
        }
        let accepted = Accepted {
            authid: authid.to_owned(),
            authrole: p.grant.role.clone(),
            authmethod: AUTHMETHOD,
            authprovider: provider_name(provider),
        };
        (sign(p.key().0.as_bytes(), challenge.as_bytes()), accepted)
    });
    Opening::Challenge {
        authmethod: AUTHMETHOD,
        extra,
        pending: AnyPending::WampCra(Pending { expected }),
    }
}

impl Pending {
    /// Checks the base64 signature the client sent.
    pub fn authenticate(self, signature: &str) -> Result<Accepted, Refusal> {
        let given = BASE64.decode(signature.trim()).unwrap_or_default();
        match self.expected {
            Some((expected, accepted)) if constant_time_eq(&expected, &given) => Ok(accepted),
            _ => Err(Refusal::failed(INVALID)),
        }
    }
}

/// The WAMP-CRA key of a salted secret: base64 of PBKDF2-HMAC-SHA256, whose
/// ASCII bytes are the HMAC key (as Autobahn and Crossbar.io use it).
pub fn derive_key(password: &[u8], params: &Pbkdf2Params) -> String {
    let mut key = vec![0u8; params.keylen as usize];
    pbkdf2::pbkdf2_hmac::<Sha256>(
        password,
        params.salt.as_bytes(),
        params.iterations,
        &mut key,
    );
    BASE64.encode(key)
}

/// HMAC-SHA256 of `challenge` keyed with `key`.
fn sign(key: &[u8], challenge: &[u8]) -> [u8; 32] {
    // HMAC takes a key of any length: new_from_slice cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return [0; 32];
    };
    mac.update(challenge);
    mac.finalize().into_bytes().into()
}

/// The challenge: a JSON object with the fields the WAMP spec lists.
fn challenge_text(
    authid: &str,
    authrole: &str,
    session: u64,
    nonce: &str,
    timestamp: &str,
) -> String {
    format!(
        "{{\"authid\": {}, \"authrole\": {}, \"authmethod\": \"wampcra\", \
         \"authprovider\": \"static\", \"nonce\": {}, \"timestamp\": {}, \"session\": {session}}}",
        json_string(authid),
        json_string(authrole),
        json_string(nonce),
        json_string(timestamp),
    )
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `now` in UTC as ISO 8601 with milliseconds, e.g. `2014-06-22T16:36:25.448Z`.
fn timestamp(now: SystemTime) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // civil-from-days (Howard Hinnant's algorithm), days since 1970-01-01
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::auth::config::{Grant, Secret};
    use crate::error::RoutingError;

    /// The challenge of the WAMP spec's WAMP-CRA section.
    const SPEC_CHALLENGE: &str = "{\"nonce\": \"LHRTC9zeOIrt_9U3\", \"authprovider\": \"userdb\", \
        \"authid\": \"peter\", \"timestamp\": \"2014-06-22T16:36:25.448Z\", \"authrole\": \"user\", \
        \"authmethod\": \"wampcra\", \"session\": 3251278072152162}";

    #[test]
    fn the_spec_example_signature_is_reproduced() {
        // The spec's AUTHENTICATE signature is the salted example's: secret
        // "secret1", salt "salt123", 1000 iterations, 32-byte key.
        let params = Pbkdf2Params {
            salt: "salt123".into(),
            iterations: 1000,
            keylen: 32,
        };
        let key = derive_key(b"secret1", &params);
        assert_eq!(key, "64xfzBvZhGDT7PB0bQwDeI8/WR1M9x6Cw5dt0yP9koc=");
        assert_eq!(
            BASE64.encode(sign(key.as_bytes(), SPEC_CHALLENGE.as_bytes())),
            "gir1mSx+deCDUV7wRM5SGIn/+R/ClqLZuH4m7FJeBVI="
        );
        // unsalted, the secret's bytes are the key (value from Autobahn)
        assert_eq!(
            BASE64.encode(sign(b"secret1", SPEC_CHALLENGE.as_bytes())),
            "vb/MUq65p6Xs4P09HfsDI4VmI8HWO3whf0vNe4IdogQ="
        );
    }

    #[test]
    fn timestamps_are_iso8601_utc() {
        let t = UNIX_EPOCH + Duration::from_millis(1_403_454_985_448);
        assert_eq!(timestamp(t), "2014-06-22T16:36:25.448Z");
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(timestamp(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }

    fn provider(salt: Option<Pbkdf2Params>) -> Provider<WampCraPrincipal> {
        let grant = Grant {
            role: "user".into(),
            realm: None,
        };
        let peter = WampCraPrincipal::new(&Secret("secret1".into()), salt, grant);
        Provider::Static(BTreeMap::from([("peter".into(), peter)]))
    }

    /// Signs the CHALLENGE as a client does, with `password`.
    fn answer(opening: Opening, password: &[u8]) -> Result<Accepted, Refusal> {
        let Opening::Challenge { extra, pending, .. } = opening else {
            panic!("expected a challenge");
        };
        let challenge = extra.get("challenge").and_then(Value::as_str).unwrap();
        let key = match extra.get("salt").and_then(Value::as_str) {
            Some(salt) => derive_key(
                password,
                &Pbkdf2Params {
                    salt: salt.into(),
                    iterations: extra.get("iterations").and_then(Value::as_u64).unwrap() as u32,
                    keylen: extra.get("keylen").and_then(Value::as_u64).unwrap() as u32,
                },
            )
            .into_bytes(),
            None => password.to_vec(),
        };
        pending.authenticate(&BASE64.encode(sign(&key, challenge.as_bytes())))
    }

    fn hello(authid: &str) -> HelloInfo<'_> {
        HelloInfo {
            realm: "realm1",
            authid: Some(authid),
            authextra: None,
            session: 77,
            now: std::time::SystemTime::now(),
        }
    }

    #[test]
    fn a_client_with_the_secret_joins_salted_or_not() {
        let salted = Some(Pbkdf2Params {
            salt: "salt123".into(),
            iterations: 100,
            keylen: 16,
        });
        for salt in [None, salted] {
            let accepted =
                answer(open(&provider(salt.clone()), &hello("peter")), b"secret1").unwrap();
            assert_eq!(accepted.authrole, "user");
            let refused = answer(open(&provider(salt), &hello("peter")), b"secret2").unwrap_err();
            assert_eq!(
                refused.reason,
                crate::auth::AbortReason::Router(RoutingError::AuthenticationFailed)
            );
        }
    }

    #[test]
    fn the_challenge_names_the_session_and_identity() {
        let Opening::Challenge { extra, .. } = open(&provider(None), &hello("peter")) else {
            panic!("expected a challenge");
        };
        let challenge = extra.get("challenge").and_then(Value::as_str).unwrap();
        assert!(challenge.contains("\"session\": 77"));
        assert!(challenge.contains("\"authid\": \"peter\""));
        assert!(challenge.contains("\"authrole\": \"user\""));
        assert!(extra.get("salt").is_none());
    }

    #[test]
    fn an_unknown_authid_fails_at_authenticate() {
        let refused = answer(open(&provider(None), &hello("paul")), b"secret1").unwrap_err();
        assert_eq!(refused.message, INVALID);
    }
}
