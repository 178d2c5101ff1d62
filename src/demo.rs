//! `aggregator demo`: the whole system in one command, with nothing to set up.
//!
//! Starts the aggregator in-process through [`App::build`] (the embedded store in a temporary
//! directory unless `--data-dir` or `--database-url` says otherwise), publishes 5,000 events with
//! 20% duplicates as a mix of single-event and batch requests, prints the verified report and a
//! few stored events, then keeps serving until Ctrl-C. With `--exit` it stops after the report
//! and exits 0 only if the run was verified (for scripts and tests).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::oneshot;

use crate::app::{shutdown_signal, App, AppConfig, DEFAULT_BIND};
use crate::client::workload::WorkloadOptions;
use crate::client::{self, PublishConfig};
use crate::client::{Client, ClientAccess, RetryPolicy};

/// Events the demo publishes by default.
pub const DEMO_EVENTS: u64 = 5_000;
/// Largest request of the demo's mixed stream.
const DEMO_MAX_BATCH: usize = 50;
/// Requests the demo keeps in flight.
const DEMO_CONCURRENCY: usize = 8;

/// Everything `aggregator demo` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoConfig {
    /// Address to listen on; when its port is taken, a free port is used instead.
    pub bind: SocketAddr,
    /// Directory of the embedded store (`None`: a fresh temporary directory, removed on exit).
    pub data_dir: Option<PathBuf>,
    /// Use this PostgreSQL database instead of the embedded store.
    pub database_url: Option<String>,
    /// Events to publish.
    pub events: u64,
    /// Stop after the report instead of serving until Ctrl-C; exit 0 only if verified.
    pub exit: bool,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            bind: DEFAULT_BIND,
            data_dir: None,
            database_url: None,
            events: DEMO_EVENTS,
            exit: false,
        }
    }
}

/// Runs the demo. Fails when the publish run fails or is not verified.
pub async fn run(args: DemoConfig) -> anyhow::Result<()> {
    let scratch_dir = match &args.data_dir {
        Some(_) => None,
        None => Some(
            std::env::temp_dir().join(format!("aggregator-demo-{}", uuid::Uuid::new_v4().simple())),
        ),
    };
    let mut config = AppConfig {
        bind: args.bind,
        ..AppConfig::default()
    };
    config.store.database_url = args.database_url.clone();
    if let Some(dir) = args.data_dir.clone().or_else(|| scratch_dir.clone()) {
        config.store.data_dir = dir;
    }
    if let Some(dir) = &scratch_dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("failed to create {}", dir.display()))?;
    }
    let store_name = match &config.store.database_url {
        Some(_) => "postgresql (--database-url)".to_string(),
        None => format!("embedded store in {}", config.store.data_dir.display()),
    };

    let app = build_with_fallback(config).await?;
    let base = format!("http://{}", reachable(app.address()));
    println!("aggregator demo: serving {base} ({store_name})");
    let (stop, stopped) = oneshot::channel::<()>();
    let mut server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await; // a dropped sender also means stop
    }));

    let publish = PublishConfig {
        url: base.clone(),
        workload: WorkloadOptions {
            events: args.events,
            batch_size: DEMO_MAX_BATCH,
            mixed: true,
            ..WorkloadOptions::default()
        },
        concurrency: DEMO_CONCURRENCY,
        ..PublishConfig::default()
    };
    println!(
        "publishing {} events, {:.0}% duplicates, single and batch requests",
        publish.workload.events,
        publish.workload.duplicate_ratio * 100.0
    );
    let outcome = client::run(publish).await.map(drop);
    if let Err(err) = &outcome {
        println!("demo run failed: {err:#}");
    } else {
        print_samples(&base).await;
    }

    if !args.exit {
        println!("\nthe aggregator keeps running; open the console in a browser:");
        println!("  {base}/ui?range=24h");
        println!("or the API:");
        for path in ["/stats", "/events?limit=10", "/health", "/docs"] {
            println!("  {base}{path}");
        }
        println!("follow events as they arrive (from another terminal):");
        println!("  aggregator tail --url {base} --from-start");
        println!("  curl -N '{base}/events/stream?from=start'");
        println!("press Ctrl-C to stop");
        tokio::select! {
            () = shutdown_signal() => {}
            served = &mut server => {
                served.context("the aggregator task panicked")??;
                anyhow::bail!("the aggregator stopped on its own");
            }
        }
    }
    let _ = stop.send(()); // the server may already have stopped
    server.await.context("the aggregator task panicked")??;
    if let Some(dir) = scratch_dir {
        // Best effort: a leftover temporary directory is harmless.
        let _ = std::fs::remove_dir_all(dir);
    }
    outcome
}

/// Builds the app on `config.bind`, or on a free port when that port is taken.
async fn build_with_fallback(config: AppConfig) -> anyhow::Result<App> {
    let wanted = config.bind;
    match App::build(config.clone()).await {
        Ok(app) => Ok(app),
        Err(err) if wanted.port() != 0 && is_addr_in_use(&err) => {
            let mut fallback = config;
            fallback.bind.set_port(0);
            let app = App::build(fallback).await?;
            println!(
                "port {} is taken; using the free port {} instead",
                wanted.port(),
                app.port()
            );
            Ok(app)
        }
        Err(err) => Err(err),
    }
}

fn is_addr_in_use(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::AddrInUse)
}

/// An address a browser can open: a wildcard bind is reachable on loopback.
fn reachable(address: SocketAddr) -> SocketAddr {
    match address.ip() {
        ip if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), address.port())
        }
        _ => address,
    }
}

/// Prints the first stored events, as `GET /events?limit=3` returns them.
async fn print_samples(base: &str) {
    let sample = Client::new(
        base,
        Duration::from_secs(5),
        RetryPolicy::within(Duration::from_secs(5)),
        &ClientAccess::default(),
    );
    let page = match sample {
        Ok(client) => client.get::<serde_json::Value>("/events?limit=3").await,
        Err(err) => Err(err),
    };
    match page.map(|page| serde_json::to_string_pretty(&page["events"])) {
        Ok(Ok(events)) => println!("\nsample events from GET {base}/events?limit=3:\n{events}"),
        Ok(Err(err)) => println!("cannot show sample events: {err}"),
        Err(err) => println!("cannot fetch sample events: {err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_bind_is_shown_as_loopback() {
        let wildcard: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(reachable(wildcard).to_string(), "127.0.0.1:8080");
        let specific: SocketAddr = "10.0.0.1:8080".parse().unwrap();
        assert_eq!(reachable(specific), specific);
    }

    #[tokio::test]
    async fn a_taken_port_is_recognised_through_the_context_chain() {
        let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = taken.local_addr().unwrap();
        let err = tokio::net::TcpListener::bind(address)
            .await
            .map_err(anyhow::Error::from)
            .map(drop)
            .context("failed to bind")
            .unwrap_err();
        assert!(is_addr_in_use(&err));
        assert!(!is_addr_in_use(&anyhow::anyhow!("something else")));
    }
}
