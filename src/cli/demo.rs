//! `aggregator demo` flags and their conversion into a [`DemoConfig`].

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use crate::app::DEFAULT_BIND;
use crate::demo::{DemoConfig, DEMO_EVENTS};

/// Everything `aggregator demo` takes.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Address to listen on; when its port is taken, a free port is used instead.
    #[arg(long, env = "AGG_DEMO_BIND", default_value_t = DEFAULT_BIND)]
    pub bind: SocketAddr,
    /// Directory of the embedded store (default: a fresh temporary directory, removed on exit).
    #[arg(long, env = "AGG_DEMO_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Use this PostgreSQL database instead of the embedded store.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Events to publish.
    #[arg(long, env = "AGG_DEMO_EVENTS", default_value_t = DEMO_EVENTS)]
    pub events: u64,
    /// Stop after the report instead of serving until Ctrl-C; exit 0 only if verified.
    #[arg(long)]
    pub exit: bool,
}

impl DemoArgs {
    /// The demo's configuration.
    pub fn config(&self) -> DemoConfig {
        DemoConfig {
            bind: self.bind,
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            events: self.events,
            exit: self.exit,
        }
    }
}
