//! `anonymous`: no proof; the session gets the configured role, and the
//! configured authid or a random one (never the one it asked for), as
//! Crossbar.io does.

use super::{Accepted, Opening, STATIC, random_bytes};
use crate::auth::config::AnonymousAuth;

/// The method's name in `authmethods`.
pub(super) const AUTHMETHOD: &str = "anonymous";

/// Welcomes the session with the configured role and authid.
pub(super) fn open(config: &AnonymousAuth) -> Opening {
    let authid = match &config.authid {
        Some(authid) => authid.clone(),
        None => match random_bytes::<16>() {
            Ok(bytes) => random_authid(u128::from_le_bytes(bytes)),
            Err(refusal) => return Opening::Refuse(refusal),
        },
    };
    Opening::Welcome(Accepted {
        authid,
        authrole: config.role.clone(),
        authmethod: AUTHMETHOD,
        authprovider: STATIC,
    })
}

/// An authid in Crossbar.io's style: six groups of four characters.
fn random_authid(mut bits: u128) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
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

    fn authid(config: &AnonymousAuth) -> String {
        match open(config) {
            Opening::Welcome(accepted) => accepted.authid,
            _ => panic!("expected a welcome"),
        }
    }

    #[test]
    fn authids_are_random_or_configured() {
        let random = AnonymousAuth {
            role: "anonymous".into(),
            authid: None,
        };
        let a = authid(&random);
        assert_eq!(a.len(), 29);
        assert_eq!(a.split('-').count(), 6);
        assert_ne!(a, authid(&random));
        let fixed = AnonymousAuth {
            role: "anonymous".into(),
            authid: Some("guest".into()),
        };
        assert_eq!(authid(&fixed), "guest");
    }
}
