//! `tls`: the client is identified by the certificate it presented in the
//! TLS handshake (already verified against the endpoint's CAs), looked up
//! by its SHA-1 fingerprint as Crossbar.io's `certificate-sha1`.

use super::{Accepted, Channel, HelloInfo, Opening, Refusal, provider_name, realm_allowed};
use crate::auth::config::{Provider, TlsPrincipal};

/// The method's name in `authmethods`.
pub(super) const AUTHMETHOD: &str = "tls";

/// Welcomes the owner of the client certificate, or refuses.
pub(super) fn open(
    provider: &Provider<TlsPrincipal>,
    hello: &HelloInfo<'_>,
    channel: &Channel,
) -> Opening {
    let Some(fingerprint) = channel.client_certificate_sha1 else {
        return Opening::Refuse(Refusal::not_authorized(
            "tls authentication needs a TLS client certificate, and the client sent none",
        ));
    };
    let found = match provider {
        Provider::Static(principals) => principals
            .iter()
            .find(|(_, p)| p.certificate_sha1 == fingerprint)
            .map(|(authid, p)| (authid.clone(), p.clone())),
        Provider::Dynamic(authenticator) => authenticator
            .principal(hello.realm, hello.authid, Some(&fingerprint))
            .filter(|(_, p)| p.certificate_sha1 == fingerprint),
        // The config has no dynamic `tls` method (`ringbar check` says so).
        Provider::Procedure(_) => None,
    };
    let Some((authid, principal)) = found else {
        return Opening::Refuse(Refusal::failed(
            "no principal has the client's TLS certificate",
        ));
    };
    if hello.authid.is_some_and(|asked| asked != authid) {
        return Opening::Refuse(Refusal::failed(
            "the client's TLS certificate belongs to another authid",
        ));
    }
    if let Err(refusal) = realm_allowed(&principal.grant, hello.realm) {
        return Opening::Refuse(refusal);
    }
    Opening::Welcome(Accepted {
        authid,
        authrole: principal.grant.role,
        authmethod: AUTHMETHOD,
        authprovider: provider_name(provider),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::auth::config::Grant;

    fn provider() -> Provider<TlsPrincipal> {
        Provider::Static(BTreeMap::from([(
            "client0".into(),
            TlsPrincipal {
                certificate_sha1: [7; 20],
                grant: Grant {
                    role: "device".into(),
                    realm: None,
                },
            },
        )]))
    }

    fn hello(authid: Option<&str>) -> HelloInfo<'_> {
        HelloInfo {
            realm: "realm1",
            authid,
            authextra: None,
            session: 1,
            now: std::time::SystemTime::now(),
        }
    }

    fn channel(sha1: Option<[u8; 20]>) -> Channel {
        Channel {
            client_certificate_sha1: sha1,
            is_tls: true,
            tls_exporter: None,
        }
    }

    #[test]
    fn a_known_certificate_joins() {
        for authid in [None, Some("client0")] {
            let Opening::Welcome(accepted) =
                open(&provider(), &hello(authid), &channel(Some([7; 20])))
            else {
                panic!("expected a welcome");
            };
            assert_eq!(accepted.authid, "client0");
            assert_eq!(accepted.authrole, "device");
            assert_eq!(accepted.authmethod, "tls");
        }
    }

    #[test]
    fn no_unknown_or_foreign_certificate_joins() {
        for (authid, sha1) in [
            (None, None),
            (None, Some([8; 20])),
            (Some("client1"), Some([7; 20])),
        ] {
            assert!(matches!(
                open(&provider(), &hello(authid), &channel(sha1)),
                Opening::Refuse(_)
            ));
        }
    }
}
