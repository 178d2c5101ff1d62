//! Reloading what may change while the server runs, without a restart: the API keys and the
//! TLS certificate on `SIGHUP`, and the keys file also when it changes on disk (one `stat`
//! per check interval, `--keys-check-interval`). A file that fails to load changes nothing:
//! what is in force stays, and the log says why. Files are read and parsed on the blocking
//! pool, never on a runtime thread.

use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use crate::auth::{AccessControl, KeysError};
use crate::http::ServerTls;

/// What the reloader looks after.
pub struct Reloadable {
    /// The API keys (nothing to reload without a keys file).
    pub access: Arc<AccessControl>,
    /// The certificate, when serving HTTPS.
    pub tls: Option<ServerTls>,
    /// How often the keys file is checked for a change; `None`: only on `SIGHUP`.
    pub check_interval: Option<Duration>,
}

impl Reloadable {
    /// Whether there is nothing to reload. Then no one listens for `SIGHUP`, which keeps its
    /// default meaning.
    pub fn has_nothing_to_reload(&self) -> bool {
        !self.access.keys_in_force() && self.tls.is_none()
    }

    /// Reloads on `SIGHUP` and on a change of the keys file, until dropped.
    pub async fn run(self) {
        let mut hangups = hangup_signal();
        let mut checks = self
            .check_interval
            .filter(|_| self.access.keys_in_force())
            .map(tokio::time::interval);
        if let Some(checks) = checks.as_mut() {
            checks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        }
        loop {
            tokio::select! {
                Some(()) = next_hangup(&mut hangups) => self.reload_all().await,
                () = next_check(&mut checks) => {
                    let access = self.access.clone();
                    let checked = tokio::task::spawn_blocking(move || access.reload_if_changed());
                    if let Ok(Some(outcome)) = checked.await {
                        log_keys(outcome, "the keys file changed");
                    }
                }
            }
        }
    }

    /// Reloads the keys and the certificate now.
    async fn reload_all(&self) {
        let access = self.access.clone();
        if let Ok(outcome) = tokio::task::spawn_blocking(move || access.reload()).await {
            log_keys(outcome, "SIGHUP");
        }
        let Some(tls) = self.tls.clone() else {
            return;
        };
        match tokio::task::spawn_blocking(move || tls.reload()).await {
            Ok(Ok(())) => info!("TLS certificate reloaded"),
            Ok(Err(err)) => {
                warn!(error = %err, "TLS certificate not reloaded: the one in use stays")
            }
            // The blocking task panicked or the runtime is shutting down: nothing changed.
            Err(_) => {}
        }
    }
}

/// The next check of the keys file; never, without checks.
async fn next_check(checks: &mut Option<tokio::time::Interval>) {
    match checks {
        Some(checks) => {
            checks.tick().await;
        }
        None => std::future::pending().await,
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
