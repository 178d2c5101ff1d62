//! The `aggregator` binary: parse the command line, set up logging, run the chosen subcommand.

use clap::Parser;

use aggregator::app::{shutdown_signal, App};
use aggregator::config::{Cli, Command};
use aggregator::publisher;

/// mimalloc instead of the system allocator: requests allocate many small, short-lived buffers,
/// and glibc's malloc/free took about 15% of the server's CPU in profiles (see DESIGN.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(config)) => serve(config).await,
        Some(Command::Publish(args)) => {
            publisher::init_logging();
            publisher::run(args).await.map(drop)
        }
        Some(Command::Demo(args)) => {
            publisher::init_logging();
            publisher::demo::run(args).await
        }
        Some(Command::Bench(command)) => aggregator::bench::run(command).await,
    }
}

async fn serve(config: aggregator::config::ServeConfig) -> anyhow::Result<()> {
    aggregator::telemetry::init(config.log_format);
    App::build(config)
        .await?
        .run_until_stopped(shutdown_signal())
        .await
}
