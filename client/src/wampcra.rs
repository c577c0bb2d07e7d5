//! WAMP-CRA's answer (the WAMP spec's challenge-response authentication):
//! the base64 HMAC-SHA256 of the router's challenge, keyed with the
//! secret, or, when the CHALLENGE carries `salt`, `iterations` and
//! `keylen`, with the base64 of the PBKDF2-HMAC-SHA256 key derived from
//! the secret (the key is that base64 text, as Autobahn and Crossbar.io
//! use it).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use ringbar_protocol::value::{Dict, Value};
use sha2::Sha256;

use crate::error::Error;

/// The most PBKDF2 iterations a router may ask for: past this a hostile
/// router could keep the client busy (Crossbar.io's default is 1000).
const MAX_ITERATIONS: u64 = 10_000_000;
/// The longest derived key a router may ask for, in bytes.
const MAX_KEY_BYTES: u64 = 1024;

/// The signature AUTHENTICATE carries for the CHALLENGE's `extra`.
pub(crate) fn signature(secret: &str, extra: &Dict) -> Result<String, Error> {
    let challenge = extra
        .get("challenge")
        .and_then(Value::as_str)
        .ok_or_else(|| protocol("the wampcra CHALLENGE has no challenge string"))?;
    let key = match extra.get("salt").and_then(Value::as_str) {
        None => secret.to_owned(),
        Some(salt) => {
            // Autobahn's defaults when the router names only the salt.
            let iterations = number(extra, "iterations", 1000, MAX_ITERATIONS)?;
            let keylen = number(extra, "keylen", 32, MAX_KEY_BYTES)?;
            derive_key(secret, salt, iterations, keylen)
        }
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes())
        .map_err(|e| protocol(&format!("no HMAC key: {e}")))?;
    mac.update(challenge.as_bytes());
    Ok(BASE64.encode(mac.finalize().into_bytes()))
}

/// The salted key: base64 of PBKDF2-HMAC-SHA256 of `secret`.
fn derive_key(secret: &str, salt: &str, iterations: u32, keylen: usize) -> String {
    let mut key = vec![0u8; keylen];
    pbkdf2::pbkdf2_hmac::<Sha256>(secret.as_bytes(), salt.as_bytes(), iterations, &mut key);
    BASE64.encode(key)
}

/// The whole number `name` of `extra` in 1..=`max`, `default` when absent.
fn number<T: TryFrom<u64>>(extra: &Dict, name: &str, default: T, max: u64) -> Result<T, Error> {
    match extra.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(value) => value
            .as_u64()
            .filter(|n| (1..=max).contains(n))
            .and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| {
                protocol(&format!(
                    "the wampcra CHALLENGE's {name} is {value:?}, not a number in 1..={max}"
                ))
            }),
    }
}

fn protocol(reason: &str) -> Error {
    Error::Protocol(reason.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The challenge of the WAMP spec's WAMP-CRA section.
    const SPEC_CHALLENGE: &str = "{\"nonce\": \"LHRTC9zeOIrt_9U3\", \"authprovider\": \"userdb\", \
        \"authid\": \"peter\", \"timestamp\": \"2014-06-22T16:36:25.448Z\", \"authrole\": \"user\", \
        \"authmethod\": \"wampcra\", \"session\": 3251278072152162}";

    fn extra(salted: bool) -> Dict {
        let mut extra: Dict = [("challenge", Value::from(SPEC_CHALLENGE))]
            .into_iter()
            .collect();
        if salted {
            extra.insert("salt", Value::from("salt123"));
            extra.insert("iterations", Value::from(1000u64));
            extra.insert("keylen", Value::from(32u64));
        }
        extra
    }

    #[test]
    fn the_spec_example_signature_is_reproduced() {
        // The spec's salted example: secret "secret1", salt "salt123";
        // the values are Autobahn's (auth.derive_key, auth.compute_wcs).
        assert_eq!(
            derive_key("secret1", "salt123", 1000, 32),
            "64xfzBvZhGDT7PB0bQwDeI8/WR1M9x6Cw5dt0yP9koc="
        );
        assert_eq!(
            signature("secret1", &extra(true)).ok().as_deref(),
            Some("gir1mSx+deCDUV7wRM5SGIn/+R/ClqLZuH4m7FJeBVI=")
        );
    }

    #[test]
    fn an_unsalted_secret_is_the_key_itself() {
        assert_eq!(
            signature("secret1", &extra(false)).ok().as_deref(),
            Some("vb/MUq65p6Xs4P09HfsDI4VmI8HWO3whf0vNe4IdogQ=")
        );
    }

    #[test]
    fn a_hostile_iteration_count_is_refused() {
        let mut extra = extra(true);
        extra.insert("iterations", Value::from(u64::MAX));
        assert!(signature("secret1", &extra).is_err());
    }
}
