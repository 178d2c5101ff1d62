//! [`ClientAccessArgs`]: the API key and CA certificate flags every client command shares
//! (`publish`, `tail`). The key is best given through `AGG_API_KEY`: a flag's value is visible
//! to every user of the machine in `ps`.

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
    /// PEM file of a CA (or self-signed) certificate to trust for https:// URLs, besides the
    /// usual roots.
    #[arg(long, env = "AGG_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
}

impl ClientAccessArgs {
    /// The client's access settings.
    pub fn access(&self) -> ClientAccess {
        ClientAccess {
            api_key: self.api_key.clone(),
            ca_cert: self.ca_cert.clone(),
        }
    }
}
