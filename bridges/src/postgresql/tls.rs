//! TLS to PostgreSQL on rustls (through `tokio-postgres-rustls`, which
//! also gives SCRAM its `tls-server-end-point` channel binding), with
//! `sslmode` as libpq means it: `require` encrypts without checking whom
//! it talks to; `verify-ca` checks that the server's certificate chains to
//! `sslrootcert`; `verify-full` also checks that it names `host`. Given
//! `sslrootcert`, `prefer`, `allow` and `require` check the chain too, as
//! libpq does when it finds a root certificate file.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::config::{Database, SslMode};

/// What opens TLS on the bridge's connections to `database` (never used
/// with `sslmode` `disable`).
pub(crate) fn connector(database: &Database) -> Result<MakeRustlsConnect, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match &database.sslrootcert {
        None => Arc::new(Unverified(provider.clone())),
        Some(roots) => {
            let webpki =
                WebPkiServerVerifier::builder_with_provider(roots.root_store(), provider.clone())
                    .build()
                    .map_err(|e| format!("database.sslrootcert: {e}"))?;
            match database.sslmode {
                SslMode::VerifyFull => webpki,
                _ => Arc::new(ChainOnly(webpki)),
            }
        }
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// The fix to name when the server's certificate was refused, if that is
/// what `error` says.
pub(crate) fn certificate_hint(error: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    let mut source = Some(error);
    while let Some(cause) = source {
        let refused = match cause.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()),
            None => cause.downcast_ref::<rustls::Error>(),
        };
        if let Some(rustls::Error::InvalidCertificate(reason)) = refused {
            return Some(match reason {
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => {
                    "set database.host to a name the server's certificate holds, or use sslmode verify-ca"
                }
                _ => "set database.sslrootcert to the CA file that signed the server's certificate",
            });
        }
        source = cause.source();
    }
    None
}

/// `verify-ca`: the chain must lead to `sslrootcert`; the name is not
/// checked (the webpki verifier checks the chain before the name, so only
/// a name mismatch is forgiven).
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified =
            self.0
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now);
        match verified {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `require` (and `prefer`) without `sslrootcert`: any certificate, as
/// libpq takes it; the handshake's signatures are still checked, so the
/// key exchange is with the certificate's holder.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
