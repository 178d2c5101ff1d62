//! HTTPS for the server. [`ServerTls`] holds the certificate and private key loaded from
//! [`TlsFiles`] and gives the connection layer (`server.rs`) the acceptor current at accept
//! time; the handshake itself runs in each connection's own task ([`handshake`]), bounded by the
//! header read timeout. [`ServerTls::reload`] (called on `SIGHUP` by the app) swaps in the
//! files' new contents for new connections only; when they are broken it returns a
//! [`TlsError`] naming the file and the reason, and the certificate in use stays.
//!
//! The server speaks HTTP/1.1 only, so ALPN offers `http/1.1` and nothing else.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::ServerConfig;
use rustls::{Error as RustlsError, InconsistentKeys};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tracing::debug;

/// The one application protocol negotiated by ALPN.
const ALPN_HTTP_1_1: &[u8] = b"http/1.1";

/// Where the server's certificate and key are: PEM files.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsFiles {
    /// The certificate chain, the server's own certificate first, then intermediates.
    pub cert: PathBuf,
    /// The private key of the server's certificate (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Why a certificate and key cannot be served; each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file cannot be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The file is not well-formed PEM.
    #[error("{} is not valid PEM: {reason}", path.display())]
    BadPem {
        /// The file.
        path: PathBuf,
        /// What the PEM parser said.
        reason: String,
    },
    /// The certificate file holds no `CERTIFICATE` section.
    #[error("no certificate in {}", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no private key section.
    #[error("no private key in {}", path.display())]
    NoPrivateKey {
        /// The file.
        path: PathBuf,
    },
    /// The key is not the one of the certificate (the first one of the chain).
    #[error("the private key in {} does not match the certificate in {}", key.display(), cert.display())]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// rustls refused the pair for another reason (an unsupported key type, a malformed
    /// certificate...).
    #[error("cannot serve the certificate in {} with the key in {}: {reason}", cert.display(), key.display())]
    Rejected {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        reason: String,
    },
}

/// The server's TLS settings, shared by the accept loop and whoever reloads them. Cheap to
/// clone: clones share the current certificate.
#[derive(Clone)]
pub struct ServerTls {
    files: TlsFiles,
    /// Swapped whole by a reload; each connection keeps the one current when it was accepted.
    current: Arc<ArcSwap<ServerConfig>>,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Loads the certificate chain and key of `files`; fails, naming the file, when either is
    /// unreadable, empty of what it should hold, or when the key is not the certificate's.
    pub fn load(files: TlsFiles) -> Result<Self, TlsError> {
        let config = server_config(&files)?;
        Ok(Self {
            files,
            current: Arc::new(ArcSwap::from_pointee(config)),
        })
    }

    /// Reads the files again and serves what they now hold to new connections (open ones keep
    /// theirs). On error nothing changes: the previous certificate stays in use. Reads two small
    /// files synchronously; logging the outcome is the caller's business.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = server_config(&self.files)?;
        self.current.store(Arc::new(config));
        Ok(())
    }

    /// An acceptor with the certificate current now.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.current.load_full())
    }
}

/// Runs the TLS handshake of a freshly accepted connection, for at most `timeout`; `None` when
/// the client fails it or is too slow (logged at debug: a scanner or a misconfigured client is
/// not the server's problem).
pub(super) async fn handshake(
    acceptor: TlsAcceptor,
    stream: TcpStream,
    timeout: Duration,
) -> Option<TlsStream<TcpStream>> {
    let peer = stream.peer_addr().ok();
    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
        Ok(Ok(secured)) => Some(secured),
        Ok(Err(err)) => {
            debug!(?peer, error = %err, "TLS handshake failed, closing the connection");
            None
        }
        Err(_) => {
            debug!(
                ?peer,
                ?timeout,
                "TLS handshake not finished in time, closing the connection"
            );
            None
        }
    }
}

/// A rustls server configuration for the pair of `files`, on the ring provider (named here
/// rather than taken from the process default, which is ambiguous when several are compiled in).
fn server_config(files: &TlsFiles) -> Result<ServerConfig, TlsError> {
    let chain = read_chain(&files.cert)?;
    let key = read_key(&files.key)?;
    let rejected = |err: RustlsError| match err {
        RustlsError::InconsistentKeys(InconsistentKeys::KeyMismatch) => TlsError::KeyMismatch {
            cert: files.cert.clone(),
            key: files.key.clone(),
        },
        other => TlsError::Rejected {
            cert: files.cert.clone(),
            key: files.key.clone(),
            reason: other.to_string(),
        },
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(rejected)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(rejected)?;
    config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
    Ok(config)
}

/// Every certificate of the PEM file at `path`, in order.
fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|err| pem_error(path, err))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| pem_error(path, err))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate { path: path.into() });
    }
    Ok(chain)
}

/// The first private key of the PEM file at `path`.
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|err| match err {
        pem::Error::NoItemsFound => TlsError::NoPrivateKey { path: path.into() },
        other => pem_error(path, other),
    })
}

fn pem_error(path: &Path, err: pem::Error) -> TlsError {
    match err {
        pem::Error::Io(source) => TlsError::Unreadable {
            path: path.into(),
            source,
        },
        other => TlsError::BadPem {
            path: path.into(),
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate for `localhost`, written as `cert.pem` and `key.pem` in `dir`.
    fn write_pair(dir: &Path) -> TlsFiles {
        let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let files = TlsFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        std::fs::write(&files.cert, generated.cert.pem()).unwrap();
        std::fs::write(&files.key, generated.signing_key.serialize_pem()).unwrap();
        files
    }

    #[test]
    fn a_certificate_and_its_key_load_and_offer_only_http_1_1() {
        let dir = tempfile::tempdir().unwrap();
        let tls = ServerTls::load(write_pair(dir.path())).unwrap();
        assert_eq!(
            tls.acceptor().config().alpn_protocols,
            vec![b"http/1.1".to_vec()]
        );
    }

    #[test]
    fn a_key_file_without_a_key_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_pair(dir.path());
        std::fs::copy(&files.cert, &files.key).unwrap();
        let err = ServerTls::load(files.clone()).unwrap_err();
        assert!(matches!(err, TlsError::NoPrivateKey { .. }), "{err:?}");
        assert!(
            err.to_string().contains(&*files.key.to_string_lossy()),
            "{err}"
        );
    }

    #[test]
    fn a_missing_certificate_file_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles {
            cert: dir.path().join("missing.pem"),
            ..write_pair(dir.path())
        };
        let err = ServerTls::load(files).unwrap_err();
        assert!(matches!(err, TlsError::Unreadable { .. }), "{err:?}");
        assert!(err.to_string().contains("missing.pem"), "{err}");
    }

    #[test]
    fn the_key_of_another_certificate_is_refused_as_a_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let files = TlsFiles {
            key: write_pair(other.path()).key,
            ..write_pair(dir.path())
        };
        let err = ServerTls::load(files).unwrap_err();
        assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err:?}");
    }

    #[test]
    fn a_failed_reload_keeps_the_certificate_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_pair(dir.path());
        let tls = ServerTls::load(files.clone()).unwrap();
        let before = tls.acceptor().config().clone();
        std::fs::write(&files.cert, "not a certificate").unwrap();
        let err = tls.reload().unwrap_err();
        assert!(matches!(err, TlsError::NoCertificate { .. }), "{err:?}");
        assert!(Arc::ptr_eq(&before, tls.acceptor().config()));
    }
}
