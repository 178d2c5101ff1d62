//! [`ClientAccessArgs`]: the API key and CA certificate flags every client command shares
//! (`publish`, `tail`, `search`). The key is best given in a file (`--api-key-file`, as a
//! container reads it from a volume) or through `AGG_API_KEY`: a flag's value is visible to
//! every user of the machine in `ps`, and an environment variable to `docker inspect`.

use std::path::PathBuf;

use clap::Args;

use crate::client::{ApiKey, ClientAccess};

/// How a client command authenticates and which extra CA certificate it trusts (`publish` and
/// `tail`).
#[derive(Debug, Clone, Args)]
pub struct ClientAccessArgs {
    /// API key, sent as `Authorization: Bearer <key>` on every request.
    #[arg(long, env = "AGG_API_KEY", hide_env_values = true)]
    pub api_key: Option<ApiKey>,
    /// A file holding the API key (surrounding white space ignored), instead of --api-key.
    #[arg(long, env = "AGG_API_KEY_FILE", value_parser = read_key_file,
          conflicts_with = "api_key")]
    pub api_key_file: Option<ApiKey>,
    /// PEM file of a CA (or self-signed) certificate to trust for https:// URLs, besides the
    /// usual roots.
    #[arg(long, env = "AGG_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
}

impl ClientAccessArgs {
    /// The client's access settings.
    pub fn access(&self) -> ClientAccess {
        ClientAccess {
            api_key: self.api_key.clone().or_else(|| self.api_key_file.clone()),
            ca_cert: self.ca_cert.clone(),
        }
    }
}

/// The key in the file at `path`, read when the command line is: a missing or empty file is an
/// error naming the flag, before anything is sent. The message never holds the key.
fn read_key_file(path: &str) -> Result<ApiKey, String> {
    let text = std::fs::read_to_string(path).map_err(|err| format!("cannot read {path}: {err}"))?;
    let key = text.trim();
    if key.is_empty() {
        return Err(format!("{path} holds no key"));
    }
    Ok(ApiKey::new(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_is_read_trimmed_and_an_empty_or_missing_one_refused() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("publisher.key");
        std::fs::write(&path, "agg_secret\n").expect("written");
        let path = path.to_string_lossy().into_owned();
        let key = read_key_file(&path).expect("read");
        assert_eq!(key, ApiKey::new("agg_secret"));
        std::fs::write(&path, " \n").expect("written");
        assert!(read_key_file(&path).unwrap_err().contains("holds no key"));
        let missing = read_key_file("/nonexistent/key").unwrap_err();
        assert!(missing.contains("cannot read"), "{missing}");
    }
}
