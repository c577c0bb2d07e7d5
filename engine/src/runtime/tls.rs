//! TLS with rustls over either I/O backend: rustls runs sans-IO (a
//! `ServerConnection` fed and drained through buffers), so the same code
//! encrypts over io_uring and epoll streams.
//!
//! A TLS stream is used by two tasks at once, the connection's reader and
//! its writer. The rustls state sits in a `RefCell` that is never borrowed
//! across an await; ciphertext goes out under an async lock, taken before
//! the records are produced, so records reach the socket in order.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use rustls::ServerConnection;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use sha1::Digest;

use super::io::Stream;
use crate::config::TlsConfig;

/// Ciphertext read per system call: two full TLS records, so a read rarely
/// stops mid-record. A speed choice, not a bound on peers (`ringbar_router::limits` holds those).
const READ_BYTES: usize = 32 * 1024;

/// Why a `tls` section cannot be used: names the file and the fix.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A key or certificate file cannot be read or holds nothing usable.
    #[error("{}: {reason}", path.display())]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls refuses the combination (e.g. the key does not match the
    /// certificate).
    #[error("{0}")]
    Config(String),
}

/// Builds the rustls server configuration of an endpoint's `tls`.
pub(crate) fn server_config(tls: &TlsConfig) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut chain = certificates(&tls.certificate)?;
    for path in &tls.chain_certificates {
        chain.extend(certificates(path)?);
    }
    let key = PrivateKeyDer::from_pem_file(&tls.key).map_err(|e| TlsError::File {
        path: tls.key.clone(),
        reason: format!("no usable private key (PEM: PKCS#8, PKCS#1 or SEC1): {e}"),
    })?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = if tls.ca_certificates.is_empty() {
        builder.with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        for path in &tls.ca_certificates {
            for cert in certificates(path)? {
                roots.add(cert).map_err(|e| TlsError::File {
                    path: path.clone(),
                    reason: format!("not a usable CA certificate: {e}"),
                })?;
            }
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
        let verifier = if tls.require_client_certificate {
            verifier.build()
        } else {
            verifier.allow_unauthenticated().build()
        };
        builder.with_client_cert_verifier(verifier.map_err(|e| TlsError::Config(e.to_string()))?)
    };
    let config = builder.with_single_cert(chain, key).map_err(|e| {
        TlsError::Config(format!(
            "{} and {} do not make a server identity: {e}",
            tls.certificate.display(),
            tls.key.display()
        ))
    })?;
    Ok(Arc::new(config))
}

/// The PEM certificates in `path` (at least one).
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::File {
            path: path.to_owned(),
            reason: format!("cannot read certificates (PEM): {e}"),
        })?;
    if certs.is_empty() {
        return Err(TlsError::File {
            path: path.to_owned(),
            reason: "no certificate in it (PEM \"BEGIN CERTIFICATE\" blocks expected)".into(),
        });
    }
    Ok(certs)
}

/// RFC 9266: the exporter's label for channel bindings.
const CHANNEL_BINDING_LABEL: &[u8] = b"EXPORTER-Channel-Binding";

/// The `tls-exporter` channel binding of an established connection: 32
/// bytes exported with the RFC 9266 label and an empty context, defined for
/// TLS 1.3 only.
fn tls_exporter(tls: &ServerConnection) -> Option<[u8; 32]> {
    if tls.protocol_version() != Some(rustls::ProtocolVersion::TLSv1_3) {
        return None;
    }
    tls.export_keying_material([0u8; 32], CHANNEL_BINDING_LABEL, Some(&[]))
        .ok()
}

/// A TLS connection over a plain stream.
pub(crate) struct TlsStream {
    inner: Stream,
    tls: RefCell<ServerConnection>,
    /// Ciphertext read but not yet fed to rustls (only the reader uses it).
    raw: RefCell<BytesMut>,
    /// Held while records are produced and written.
    write_lock: tokio::sync::Mutex<()>,
    /// SHA-1 of the client's certificate, when it presented one.
    client_certificate_sha1: Option<[u8; 20]>,
    /// The `tls-exporter` channel binding, on TLS 1.3.
    tls_exporter: Option<[u8; 32]>,
}

impl TlsStream {
    /// Runs the server side of the handshake on `inner`.
    pub(crate) async fn accept(
        inner: Stream,
        config: Arc<rustls::ServerConfig>,
    ) -> io::Result<TlsStream> {
        let mut tls = ServerConnection::new(config).map_err(io::Error::other)?;
        // the outbound queue bounds what one write hands over
        tls.set_buffer_limit(None);
        let mut stream = TlsStream {
            inner,
            tls: RefCell::new(tls),
            raw: RefCell::new(BytesMut::with_capacity(READ_BYTES)),
            write_lock: tokio::sync::Mutex::new(()),
            client_certificate_sha1: None,
            tls_exporter: None,
        };
        while stream.tls.borrow().is_handshaking() {
            stream.flush().await?;
            if !stream.tls.borrow().wants_read() {
                // nothing to send and nothing awaited: rustls is stuck
                return Err(io::Error::other("TLS handshake stalled"));
            }
            if !stream.read_records().await? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        stream.flush().await?;
        stream.client_certificate_sha1 = stream
            .tls
            .borrow()
            .peer_certificates()
            .and_then(|certs| certs.first())
            .map(|cert| sha1::Sha1::digest(cert.as_ref()).into());
        stream.tls_exporter = tls_exporter(&stream.tls.borrow());
        Ok(stream)
    }

    /// The `tls-exporter` channel binding of this connection, when it is
    /// TLS 1.3.
    pub(crate) fn tls_exporter(&self) -> Option<[u8; 32]> {
        self.tls_exporter
    }

    /// The SHA-1 fingerprint of the client's verified certificate.
    pub(crate) fn client_certificate_sha1(&self) -> Option<[u8; 20]> {
        self.client_certificate_sha1
    }

    /// Reads plaintext, appending to `buf`; `Ok(0)` is end of stream.
    pub(crate) async fn read(&self, buf: &mut BytesMut, min_spare: usize) -> io::Result<usize> {
        loop {
            if let Some(n) = self.take_plaintext(buf, min_spare)? {
                return Ok(n);
            }
            if self.tls.borrow().wants_write() {
                self.flush().await?;
            }
            if !self.read_records().await? {
                // the peer closed: whatever rustls still holds, then EOF
                return Ok(self.take_plaintext(buf, min_spare)?.unwrap_or(0));
            }
        }
    }

    /// Moves decrypted bytes into `buf`: `Some(0)` once the peer sent
    /// close_notify, `None` when there are none now.
    fn take_plaintext(&self, buf: &mut BytesMut, min_spare: usize) -> io::Result<Option<usize>> {
        let mut tls = self.tls.borrow_mut();
        let start = buf.len();
        buf.resize(start + min_spare.max(4096), 0);
        let result = tls.reader().read(&mut buf[start..]);
        match result {
            Ok(n) => {
                buf.truncate(start + n);
                Ok(Some(n))
            }
            Err(e) => {
                buf.truncate(start);
                if e.kind() == io::ErrorKind::WouldBlock {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Feeds buffered ciphertext to rustls, reading more from the socket
    /// when none is buffered. `Ok(false)` at end of stream.
    async fn read_records(&self) -> io::Result<bool> {
        if self.raw.borrow().is_empty() {
            let raw = std::mem::take(&mut *self.raw.borrow_mut());
            let (result, raw) = Box::pin(self.inner.read(raw, READ_BYTES)).await;
            *self.raw.borrow_mut() = raw;
            if result? == 0 {
                let mut tls = self.tls.borrow_mut();
                // tell rustls the stream ended (a read of nothing)
                let _ = tls.read_tls(&mut io::empty());
                let _ = tls.process_new_packets();
                return Ok(false);
            }
        }
        let processed = {
            let mut raw = self.raw.borrow_mut();
            let mut tls = self.tls.borrow_mut();
            let mut result = Ok(());
            while !raw.is_empty() {
                let mut slice: &[u8] = &raw;
                match tls.read_tls(&mut slice) {
                    // rustls is full of plaintext: the caller drains it first
                    Ok(0) | Err(_) => break,
                    Ok(n) => raw.advance(n),
                }
                if let Err(e) = tls.process_new_packets() {
                    result = Err(e);
                    break;
                }
            }
            result
        };
        if let Err(e) = processed {
            // rustls queued an alert for the peer: send it, then fail
            let _ = self.flush().await;
            return Err(io::Error::new(io::ErrorKind::InvalidData, e));
        }
        Ok(true)
    }

    /// Encrypts and writes every byte of `frames`.
    pub(crate) async fn write_all(&self, frames: Vec<Bytes>) -> io::Result<()> {
        let _writing = self.write_lock.lock().await;
        {
            let mut tls = self.tls.borrow_mut();
            for frame in &frames {
                tls.writer().write_all(frame)?;
            }
        }
        self.flush_locked().await
    }

    /// Writes whatever rustls has queued (handshake, alerts, records).
    async fn flush(&self) -> io::Result<()> {
        let _writing = self.write_lock.lock().await;
        self.flush_locked().await
    }

    async fn flush_locked(&self) -> io::Result<()> {
        loop {
            let out = {
                let mut tls = self.tls.borrow_mut();
                let mut out = Vec::new();
                while tls.wants_write() {
                    tls.write_tls(&mut out)?;
                }
                out
            };
            if out.is_empty() {
                return Ok(());
            }
            Box::pin(self.inner.write_all(vec![Bytes::from(out)])).await?;
        }
    }

    /// Shuts the socket down (without close_notify: WAMP and WebSocket
    /// have closed the session by then).
    pub(crate) fn shutdown(&self) {
        self.inner.shutdown();
    }
}
