//! `wss://` and WAMP-cryptosign router authentication against a real
//! ringbar router started in-process, its WebSocket transport on TLS with
//! a test certificate: the pinned key joins (bound to the TLS channel),
//! another key is named and refused, an unknown certificate and a router
//! that proves nothing are refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../engine/tests/support/mod.rs"]
mod support;

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use ringbar_client::{Credentials, Error, JoinOptions, RouterKey, Session, TlsRoots, Url};
use ringbar_engine::config::{
    AuthConfig, Authenticator, CryptosignPrincipal, Endpoint, Grant, IoBackend, Provider,
    TlsConfig, TransportKind,
};
use support::TestRouter;

/// The router's own key: it proves it to clients that ask.
const ROUTER: [u8; 32] = [9; 32];

/// Admits every key to `realm1` and proves the router with its key.
#[derive(Debug)]
struct ProvingRouter(SigningKey);

impl Authenticator<CryptosignPrincipal> for ProvingRouter {
    fn principal(
        &self,
        _realm: &str,
        _authid: Option<&str>,
        credential: Option<&[u8]>,
    ) -> Option<(String, CryptosignPrincipal)> {
        let key: [u8; 32] = credential?.try_into().ok()?;
        let grant = Grant {
            role: "anonymous".into(),
            realm: Some("realm1".into()),
        };
        let principal = CryptosignPrincipal {
            authorized_keys: vec![key],
            grant,
        };
        Some((hex::encode(key), principal))
    }

    fn router_key(&self, _realm: &str) -> Option<&SigningKey> {
        Some(&self.0)
    }
}

/// A router whose WebSocket transport is TLS with a certificate for
/// 127.0.0.1 and authenticates by [`ProvingRouter`] when `proving`, else
/// by [`ProvingRouter`]'s principals without the proof; the CA file that
/// verifies it.
fn router(dir: &std::path::Path, proving: bool) -> (TestRouter, std::path::PathBuf) {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let router = ProvingRouter(SigningKey::from_bytes(&ROUTER));
    let provider = if proving {
        Provider::Dynamic(Arc::new(router) as Arc<dyn Authenticator<CryptosignPrincipal>>)
    } else {
        let principal = router
            .principal("realm1", None, Some(&node_public()))
            .unwrap();
        Provider::Static([principal].into_iter().collect())
    };
    let auth = Arc::new(AuthConfig {
        cryptosign: Some(provider),
        ..AuthConfig::default()
    });
    let tls_cert = cert.clone();
    let router = TestRouter::start_edited(1, IoBackend::Epoll, |config| {
        for transport in &mut config.transports {
            if let TransportKind::WebSocket(ws) = &mut transport.kind {
                ws.auth = auth.clone();
                if let Endpoint::Tcp { tls, .. } = &mut transport.endpoint {
                    *tls = Some(TlsConfig {
                        key: key.clone(),
                        certificate: tls_cert.clone(),
                        chain_certificates: Vec::new(),
                        ca_certificates: Vec::new(),
                        require_client_certificate: false,
                    });
                }
            }
        }
    });
    (router, cert)
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ringbar-client-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The joining node's key.
const NODE: [u8; 32] = [4; 32];

fn node_public() -> [u8; 32] {
    SigningKey::from_bytes(&NODE).verifying_key().to_bytes()
}

fn node() -> Credentials {
    Credentials::Cryptosign {
        authid: None,
        key: SigningKey::from_bytes(&NODE),
    }
}

#[test]
fn over_wss_the_pinned_router_key_joins_and_another_is_refused() {
    let dir = scratch("wss");
    let (router, ca) = router(&dir, true);
    let url = Url::parse(&format!("wss://127.0.0.1:{}/ws", router.ws_port)).unwrap();
    let roots = TlsRoots::from_ca_files(&[&ca]).unwrap();
    let router_public = SigningKey::from_bytes(&ROUTER).verifying_key().to_bytes();
    let options = |router_key| JoinOptions {
        roots: Some(roots.clone()),
        router_key,
        ..JoinOptions::default()
    };
    runtime().block_on(async {
        for expected in [RouterKey::Pinned(router_public), RouterKey::Any] {
            let session = Session::join_with(&url, "realm1", &node(), &options(expected))
                .await
                .unwrap();
            assert_eq!(session.router_key(), Some(router_public));
            assert_eq!(session.authrole(), "anonymous");
            session.leave().await.unwrap();
        }

        let other = [1; 32];
        let error = Session::join_with(&url, "realm1", &node(), &options(RouterKey::Pinned(other)))
            .await
            .unwrap_err();
        match &error {
            Error::RouterKeyMismatch {
                expected, offered, ..
            } => {
                assert_eq!(expected, &hex::encode(other));
                assert_eq!(offered, &hex::encode(router_public));
            }
            _ => panic!("expected a key mismatch, got {error}"),
        }

        // the system's roots do not know the test certificate
        let error = Session::join(&url, "realm1", &node()).await.unwrap_err();
        assert!(
            error.to_string().contains("TLS handshake with 127.0.0.1"),
            "{error}"
        );
    });
    drop(router);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_router_that_proves_no_key_is_refused() {
    let dir = scratch("silent");
    let (router, ca) = router(&dir, false);
    let url = Url::parse(&format!("wss://127.0.0.1:{}/ws", router.ws_port)).unwrap();
    let options = JoinOptions {
        roots: Some(TlsRoots::from_ca_files(&[&ca]).unwrap()),
        router_key: RouterKey::Any,
        ..JoinOptions::default()
    };
    let error = runtime()
        .block_on(Session::join_with(&url, "realm1", &node(), &options))
        .unwrap_err();
    assert!(
        matches!(&error, Error::RouterNotProven { reason, .. } if reason.contains("router authentication")),
        "{error}"
    );
    drop(router);
    let _ = std::fs::remove_dir_all(&dir);
}
