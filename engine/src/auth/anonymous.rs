//! `anonymous`: no proof; the session gets the configured role.

use super::{Accepted, HelloInfo, Opening, STATIC};
use crate::config::AnonymousAuth;

/// The method's name in `authmethods`.
pub(super) const AUTHMETHOD: &str = "anonymous";

/// Welcomes the session with the configured role; it keeps the authid it
/// asked for, or gets a random one.
pub(super) fn open(config: &AnonymousAuth, hello: &HelloInfo<'_>) -> Opening {
    let authid = match hello.authid {
        Some(authid) => authid.to_owned(),
        None => random_authid(hello.session),
    };
    Opening::Welcome(Accepted {
        authid,
        authrole: config.role.clone(),
        authmethod: AUTHMETHOD,
        authprovider: STATIC,
    })
}

/// An authid for an anonymous session that brought none, in Crossbar.io's
/// style (six groups of four characters), from the session's random id.
fn random_authid(seed: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bits = u128::from(seed) ^ (u128::from(seed.rotate_left(29)) << 53);
    let mut out = String::with_capacity(29);
    for group in 0..6 {
        if group > 0 {
            out.push('-');
        }
        for _ in 0..4 {
            out.push(char::from(ALPHABET[(bits % 32) as usize]));
            bits /= 32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_authids_look_like_crossbar_ones() {
        let a = random_authid(0x1234_5678_9abc);
        assert_eq!(a.len(), 29);
        assert_eq!(a.split('-').count(), 6);
        assert_ne!(a, random_authid(0x1234_5678_9abd));
    }
}
