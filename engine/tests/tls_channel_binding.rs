//! WAMP-Cryptosign bound to the TLS channel (`channel_binding:
//! "tls-exporter"`, RFC 9266) over a real TLS 1.3 connection: the client
//! signs the challenge XOR the exporter value it derives from its own side
//! of the connection, and a signature of the bare challenge is refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use ed25519_dalek::{Signer, SigningKey};
use ringbar_engine::config::{
    AuthConfig, CryptosignPrincipal, Endpoint, Grant, IoBackend, Provider, TlsConfig, TransportKind,
};
use ringbar_protocol::codec::{self, Serializer};
use ringbar_protocol::message::{Authenticate, Hello, Message};
use ringbar_protocol::rawsocket::{
    FrameEncoder, FrameParser, FrameType, HandshakeRequest, MaxMessageLength,
};
use ringbar_protocol::value::{Dict, Value};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use support::TestRouter;

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// Frames for the router, held to the maximum it announced.
static ENCODER: std::sync::OnceLock<FrameEncoder> = std::sync::OnceLock::new();

const ALICE: [u8; 32] = [7; 32];

/// A router whose RawSocket transport is TLS-only and admits `alice` by
/// cryptosign; the PEM of its certificate.
fn router(dir: &std::path::Path) -> (TestRouter, Vec<u8>) {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let alice = CryptosignPrincipal {
        authorized_keys: vec![SigningKey::from_bytes(&ALICE).verifying_key().to_bytes()],
        grant: Grant {
            role: "anonymous".into(),
            realm: None,
        },
    };
    let auth = Arc::new(AuthConfig {
        cryptosign: Some(Provider::Static(BTreeMap::from([("alice".into(), alice)]))),
        ..AuthConfig::default()
    });
    let router = TestRouter::start_edited(1, IoBackend::Auto, |config| {
        for transport in &mut config.transports {
            if let TransportKind::RawSocket(rs) = &mut transport.kind {
                rs.auth = auth.clone();
                if let Endpoint::Tcp { tls, .. } = &mut transport.endpoint {
                    *tls = Some(TlsConfig {
                        key: key.clone(),
                        certificate: cert.clone(),
                        chain_certificates: Vec::new(),
                        ca_certificates: Vec::new(),
                        require_client_certificate: false,
                    });
                }
            }
        }
    });
    (router, certified.cert.pem().into_bytes())
}

/// A TLS 1.3 connection to the RawSocket transport, past the RawSocket
/// handshake (JSON).
fn connect(router: &TestRouter, ca_pem: &[u8]) -> Tls {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", router.rs_port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut tls = rustls::StreamOwned::new(connection, tcp);
    let request = HandshakeRequest {
        serializer: Serializer::Json,
        max_message_length: MaxMessageLength::MAX,
    };
    tls.write_all(&request.to_bytes()).unwrap();
    let mut reply = [0u8; 4];
    tls.read_exact(&mut reply).unwrap();
    let _ = ENCODER.set(request.complete(reply).unwrap().frame_encoder());
    tls
}

/// The client's side of the RFC 9266 channel binding.
fn exporter(tls: &Tls) -> [u8; 32] {
    tls.conn
        .export_keying_material([0u8; 32], b"EXPORTER-Channel-Binding", Some(&[]))
        .unwrap()
}

fn send(tls: &mut Tls, message: &Message) {
    let mut payload = BytesMut::new();
    codec::encode(Serializer::Json, message, &mut payload).unwrap();
    let mut frame = BytesMut::new();
    ENCODER
        .get()
        .unwrap()
        .encode(FrameType::Message, &payload, &mut frame)
        .unwrap();
    tls.write_all(&frame).unwrap();
    tls.flush().unwrap();
}

fn receive(tls: &mut Tls) -> Message {
    let mut parser = FrameParser::new(MaxMessageLength::MAX);
    let mut buf = BytesMut::new();
    loop {
        if let Some(frame) = parser.parse(&mut buf).unwrap() {
            return codec::decode(Serializer::Json, frame.into_payload()).unwrap();
        }
        let mut chunk = [0u8; 4096];
        let n = tls.read(&mut chunk).unwrap();
        assert!(n > 0, "the router closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// HELLO as alice asking for `channel_binding`; the CHALLENGE's extra.
fn hello(tls: &mut Tls, binding: &str) -> Message {
    let key = SigningKey::from_bytes(&ALICE);
    let authextra: Dict = [
        (
            "pubkey",
            Value::from(hex::encode(key.verifying_key().to_bytes())),
        ),
        ("channel_binding", Value::from(binding)),
    ]
    .into_iter()
    .collect();
    let details: Dict = [
        ("authmethods", Value::List(vec![Value::from("cryptosign")])),
        ("authid", Value::from("alice")),
        ("authextra", Value::Dict(authextra)),
        (
            "roles",
            Value::Dict(
                [("subscriber", Value::Dict(Dict::new()))]
                    .into_iter()
                    .collect(),
            ),
        ),
    ]
    .into_iter()
    .collect();
    send(
        tls,
        &Message::Hello(Hello {
            realm: "realm1".into(),
            details,
        }),
    );
    receive(tls)
}

/// Signs `message` as alice and sends AUTHENTICATE; the router's answer.
fn authenticate(tls: &mut Tls, message: &[u8]) -> Message {
    let key = SigningKey::from_bytes(&ALICE);
    let mut signed = key.sign(message).to_bytes().to_vec();
    signed.extend_from_slice(message);
    send(
        tls,
        &Message::Authenticate(Authenticate {
            signature: hex::encode(signed).as_str().into(),
            extra: Dict::new(),
        }),
    );
    receive(tls)
}

fn challenge_bytes(challenge: &Message) -> Vec<u8> {
    let Message::Challenge(challenge) = challenge else {
        panic!("expected CHALLENGE, got {challenge:?}");
    };
    assert_eq!(
        challenge.extra.get("channel_binding"),
        Some(&Value::from("tls-exporter"))
    );
    hex::decode(challenge.extra.get("challenge").unwrap().as_str().unwrap()).unwrap()
}

#[test]
fn a_session_bound_to_its_tls_channel_joins_and_an_unbound_signature_is_refused() {
    let dir = std::env::temp_dir().join(format!("ringbar-tls-binding-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (router, ca) = router(&dir);

    let mut tls = connect(&router, &ca);
    let channel_id = exporter(&tls);
    let challenge = challenge_bytes(&hello(&mut tls, "tls-exporter"));
    let bound: Vec<u8> = challenge
        .iter()
        .zip(channel_id)
        .map(|(c, id)| c ^ id)
        .collect();
    match authenticate(&mut tls, &bound) {
        Message::Welcome(welcome) => {
            assert_eq!(welcome.details.get("authid"), Some(&Value::from("alice")));
        }
        other => panic!("expected WELCOME, got {other:?}"),
    }

    let mut tls = connect(&router, &ca);
    let challenge = challenge_bytes(&hello(&mut tls, "tls-exporter"));
    match authenticate(&mut tls, &challenge) {
        Message::Abort(abort) => {
            assert_eq!(abort.reason.as_str(), "wamp.error.authentication_failed");
        }
        other => panic!("expected ABORT, got {other:?}"),
    }

    let mut tls = connect(&router, &ca);
    match hello(&mut tls, "tls-unique") {
        Message::Abort(abort) => {
            assert_eq!(abort.reason.as_str(), "wamp.error.not_authorized");
            let message = abort
                .details
                .get("message")
                .and_then(Value::as_str)
                .unwrap();
            assert!(message.contains("tls-exporter"), "{message}");
        }
        other => panic!("expected ABORT, got {other:?}"),
    }
    drop(router);
    let _ = std::fs::remove_dir_all(&dir);
}
