//! TLS in the server itself (`--tls-cert`, `--tls-key`): `wss://` and `https://`
//! without a reverse proxy. rustls with the ring provider.
//!
//! Handshakes run in their own tasks, with a deadline, so a slow or silent client
//! never holds up the accept loop.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::accept::{CappedListener, Counted};
use crate::SignalError;

/// Longest a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Completed handshakes waiting for the HTTP server to take them.
const READY_QUEUE: usize = 64;

/// Loads a PEM certificate chain and its PEM private key (PKCS#8, PKCS#1 or SEC1)
/// into a rustls server configuration (TLS 1.2 and 1.3, HTTP/1.1 by ALPN).
///
/// Errors: [`SignalError::InvalidConfig`] naming the file that is missing, holds
/// no certificate or key, or whose key does not match the certificate.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, SignalError> {
    let invalid = |path: &Path, why: String| SignalError::InvalidConfig {
        reason: format!("{}: {why}", path.display()),
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| invalid(cert, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(invalid(cert, "no PEM certificate in it".into()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| invalid(key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| invalid(key, e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A listener that yields connections after their TLS handshake (an
/// [`axum::serve::Listener`]).
pub(crate) struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<Counted>, SocketAddr)>,
    local_addr: SocketAddr,
}

impl TlsListener {
    /// Accepts on `tcp` and shakes hands with `config` in the background.
    pub(crate) fn new(
        mut tcp: CappedListener,
        config: Arc<rustls::ServerConfig>,
    ) -> std::io::Result<Self> {
        let local_addr = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(READY_QUEUE);
        let acceptor = TlsAcceptor::from(config);
        tokio::spawn(async move {
            loop {
                // Stops (and frees the port) once the server drops the listener.
                let (stream, remote) = tokio::select! {
                    accepted = tcp.accept() => accepted,
                    () = tx.closed() => break,
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, remote)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%remote, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%remote, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { ready, local_addr })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<Counted>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accept task only ends when this listener is gone.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}
