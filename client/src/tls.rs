//! TLS for `wss://` routers (rustls): which certificates a router's must
//! chain to, and the connection's `tls-exporter` channel binding, which
//! ties a WAMP-cryptosign signature to this one TLS connection.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::error::Error;

/// RFC 9266: the exporter's label for channel bindings.
const CHANNEL_BINDING_LABEL: &[u8] = b"EXPORTER-Channel-Binding";

/// The certificates a `wss://` router's certificate must chain to: the
/// system's roots, or the CAs of PEM files (a private CA).
#[derive(Clone)]
pub struct TlsRoots {
    roots: Arc<rustls::RootCertStore>,
    config: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for TlsRoots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsRoots(..)")
    }
}

impl TlsRoots {
    /// The operating system's root certificates (as `openssl` finds them:
    /// `SSL_CERT_FILE`, `SSL_CERT_DIR`, else the distribution's bundle).
    pub fn system() -> Result<Self, Error> {
        let found = rustls_native_certs::load_native_certs();
        let mut roots = rustls::RootCertStore::empty();
        let (added, _) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            let why = found
                .errors
                .first()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default();
            return Err(tls_error(format!(
                "no system root certificates found{why}: install the ca-certificates package, or name the CA file that signed the router's certificate"
            )));
        }
        Self::with_roots(roots)
    }

    /// The CA certificates of the PEM files `paths` (at least one
    /// certificate in all).
    pub fn from_ca_files<P: AsRef<Path>>(paths: &[P]) -> Result<Self, Error> {
        let mut roots = rustls::RootCertStore::empty();
        for path in paths {
            let path = path.as_ref();
            let bad = |reason: String| tls_error(format!("CA file {}: {reason}", path.display()));
            let certificates = CertificateDer::pem_file_iter(path)
                .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
                .map_err(|e| bad(format!("cannot read PEM certificates: {e}")))?;
            if certificates.is_empty() {
                return Err(bad(
                    "no certificate in it (PEM \"BEGIN CERTIFICATE\" blocks expected)".into(),
                ));
            }
            for certificate in certificates {
                roots
                    .add(certificate)
                    .map_err(|e| bad(format!("not a usable CA certificate: {e}")))?;
            }
        }
        if roots.is_empty() {
            return Err(tls_error("no CA file given".into()));
        }
        Self::with_roots(roots)
    }

    /// The certificates themselves, for other TLS clients of the same
    /// CAs (the PostgreSQL bridge's `sslrootcert`).
    pub fn root_store(&self) -> Arc<rustls::RootCertStore> {
        Arc::clone(&self.roots)
    }

    fn with_roots(roots: rustls::RootCertStore) -> Result<Self, Error> {
        let roots = Arc::new(roots);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error(e.to_string()))?
            .with_root_certificates(Arc::clone(&roots))
            .with_no_client_auth();
        Ok(Self {
            roots,
            config: Arc::new(config),
        })
    }

    /// Runs the TLS handshake over `tcp` with the router `host`, whose
    /// certificate must name it.
    pub(crate) async fn connect(
        &self,
        host: &str,
        tcp: TcpStream,
    ) -> Result<TlsStream<TcpStream>, Error> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| tls_error(format!("'{host}' is not a server name: {e}")))?;
        TlsConnector::from(Arc::clone(&self.config))
            .connect(name, tcp)
            .await
            .map_err(|source| Error::Io {
                what: format!("TLS handshake with {host}"),
                source,
            })
    }
}

/// The `tls-exporter` channel binding (RFC 9266) of an established
/// connection: defined for TLS 1.3 only.
pub(crate) fn tls_exporter(stream: &TlsStream<TcpStream>) -> Option<[u8; 32]> {
    let (_, tls) = stream.get_ref();
    if tls.protocol_version() != Some(rustls::ProtocolVersion::TLSv1_3) {
        return None;
    }
    tls.export_keying_material([0u8; 32], CHANNEL_BINDING_LABEL, Some(&[]))
        .ok()
}

fn tls_error(reason: String) -> Error {
    Error::Tls(reason)
}
