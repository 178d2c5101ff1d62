//! What a client shows and whom it trusts: [`ClientAccess`] carries the [`ApiKey`] sent on every
//! request (`Authorization: Bearer <key>`) and a CA certificate trusted for `https://` URLs
//! besides the usual roots. Plain data carried by [`PublishConfig`](super::PublishConfig),
//! [`StreamConfig`](super::StreamConfig) and [`TailConfig`](super::TailConfig); every reqwest
//! client of this layer is built through [`ClientAccess::http_client`].
//!
//! A key must never show: [`ApiKey`]'s `Debug` hides it, the header is marked sensitive, and
//! no error repeats it.

use std::fmt;
use std::path::{Path, PathBuf};

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use super::error::ClientError;

/// An API key. Its `Debug` prints `ApiKey(***)`, so that it stays out of logs and errors.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key as given (on the command line, in the environment).
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }
}

impl From<String> for ApiKey {
    fn from(key: String) -> Self {
        Self(key)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// The credentials and extra trust of a client. The default sends no key and trusts only the
/// usual roots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientAccess {
    /// Sent as `Authorization: Bearer <key>` on every request.
    pub api_key: Option<ApiKey>,
    /// PEM file of a CA (or self-signed) certificate to trust, besides the usual roots.
    pub ca_cert: Option<PathBuf>,
}

impl ClientAccess {
    /// `builder` finished with the key sent on every request and the CA certificate trusted.
    /// Reads the CA file (a small file, once per client).
    pub fn http_client(
        &self,
        builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::Client, ClientError> {
        let mut configured = builder;
        if let Some(key) = &self.api_key {
            configured = configured.default_headers(bearer(key)?);
        }
        if let Some(path) = &self.ca_cert {
            configured = configured.add_root_certificate(trusted_ca(path)?);
        }
        configured.build().map_err(ClientError::Build)
    }
}

/// The `Authorization` header carrying `key`, marked sensitive so that it is never logged.
fn bearer(key: &ApiKey) -> Result<HeaderMap, ClientError> {
    let mut value =
        HeaderValue::from_str(&format!("Bearer {}", key.0)).map_err(|_| ClientError::BadApiKey)?;
    value.set_sensitive(true);
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, value);
    Ok(headers)
}

/// The certificates of the PEM file at `path`, checked here so that a wrong file is named now
/// rather than failing every handshake later.
fn trusted_ca(path: &Path) -> Result<reqwest::Certificate, ClientError> {
    let refused = |reason: String| ClientError::CaCert {
        path: path.into(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|err| refused(err.to_string()))?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| refused(format!("not valid PEM: {err}")))?;
    if certificates.is_empty() {
        return Err(refused("no certificate in it".into()));
    }
    reqwest::Certificate::from_pem(&pem).map_err(|err| refused(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_never_shows_in_debug_output() {
        let access = ClientAccess {
            api_key: Some(ApiKey::new("agg_secret_value")),
            ca_cert: None,
        };
        let shown = format!("{access:?}");
        assert!(!shown.contains("agg_secret_value"), "{shown}");
        assert!(shown.contains("ApiKey(***)"), "{shown}");
    }

    #[test]
    fn the_bearer_header_is_sensitive_and_a_bad_key_is_refused_without_showing_it() {
        let headers = bearer(&ApiKey::new("k1")).unwrap();
        let value = &headers[AUTHORIZATION];
        assert_eq!(value, "Bearer k1");
        assert!(value.is_sensitive());
        let err = bearer(&ApiKey::new("line\nbreak")).unwrap_err();
        assert!(!err.to_string().contains("line"), "{err}");
    }

    #[test]
    fn an_unreadable_or_empty_ca_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing-ca.pem");
        let empty = dir.path().join("empty-ca.pem");
        std::fs::write(&empty, "no pem here").unwrap();
        for path in [missing, empty] {
            let access = ClientAccess {
                api_key: None,
                ca_cert: Some(path.clone()),
            };
            let err = access.http_client(reqwest::Client::builder()).unwrap_err();
            assert!(matches!(err, ClientError::CaCert { .. }), "{err:?}");
            assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
        }
    }
}
