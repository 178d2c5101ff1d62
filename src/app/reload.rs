//! Reloading what may change while the server runs, without a restart: the API keys and the
//! TLS certificate on `SIGHUP`, and the keys file also when it changes on disk (one `stat`
//! every [`KEYS_FILE_CHECK_PERIOD`]). A file that fails to load changes nothing: what is in
//! force stays, and the log says why.

use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use crate::auth::{AccessControl, KeysError};
use crate::http::ServerTls;

/// How often the keys file is checked for a change.
pub const KEYS_FILE_CHECK_PERIOD: Duration = Duration::from_secs(2);

/// What the reloader looks after.
pub struct Reloadable {
    /// The API keys (nothing to reload without a keys file).
    pub access: Arc<AccessControl>,
    /// The certificate, when serving HTTPS.
    pub tls: Option<ServerTls>,
}

impl Reloadable {
    /// Whether there is anything to reload. When not, `SIGHUP` keeps its default meaning.
    pub fn is_empty(&self) -> bool {
        !self.access.keys_in_force() && self.tls.is_none()
    }

    /// Reloads on `SIGHUP` and on a change of the keys file, until dropped.
    pub async fn run(self) {
        let mut hangups = hangup_signal();
        let mut checks = tokio::time::interval(KEYS_FILE_CHECK_PERIOD);
        checks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                Some(()) = next_hangup(&mut hangups) => self.reload_all(),
                _ = checks.tick() => {
                    if let Some(outcome) = self.access.reload_if_changed() {
                        log_keys(outcome, "the keys file changed");
                    }
                }
            }
        }
    }

    /// Reloads the keys and the certificate now.
    pub fn reload_all(&self) {
        log_keys(self.access.reload(), "SIGHUP");
        if let Some(tls) = &self.tls {
            match tls.reload() {
                Ok(()) => info!("TLS certificate reloaded"),
                Err(err) => {
                    warn!(error = %err, "TLS certificate not reloaded: the one in use stays")
                }
            }
        }
    }
}

fn log_keys(outcome: Result<Option<usize>, KeysError>, trigger: &str) {
    match outcome {
        Ok(Some(keys)) => info!(keys, trigger, "API keys reloaded"),
        Ok(None) => {}
        Err(err) => warn!(error = %err, trigger, "API keys not reloaded: the keys in force stay"),
    }
}

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = Option<()>;

#[cfg(unix)]
fn hangup_signal() -> Hangups {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::hangup()) {
        Ok(hangups) => Some(hangups),
        Err(err) => {
            warn!(error = %err, "cannot listen for SIGHUP: the keys file is still watched");
            None
        }
    }
}

#[cfg(not(unix))]
fn hangup_signal() -> Hangups {
    None
}

/// The next `SIGHUP`; never, without a listener.
async fn next_hangup(hangups: &mut Hangups) -> Option<()> {
    #[cfg(unix)]
    if let Some(hangups) = hangups {
        return hangups.recv().await;
    }
    let _ = hangups;
    std::future::pending().await
}
