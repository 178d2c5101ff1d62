//! The edge: the command line, the only clap code and the only place that knows every
//! subcommand. Each flag has an environment-variable fallback and its default in the layer it
//! configures; each subcommand's flags convert into that layer's plain config ([`AppConfig`],
//! [`PublishConfig`], [`DemoConfig`], [`CeilingConfig`]), and [`run`] hands it over. Nothing
//! below this module sees a clap type.
//!
//! [`AppConfig`]: crate::app::AppConfig
//! [`PublishConfig`]: crate::client::PublishConfig
//! [`DemoConfig`]: crate::demo::DemoConfig
//! [`CeilingConfig`]: crate::bench::ceiling::CeilingConfig

pub mod access;
pub mod bench;
pub mod config;
pub mod config_file;
pub mod demo;
pub mod keys;
mod parse;
pub mod publish;
pub mod retention;
pub mod search;
pub mod serve;
pub mod tail;
#[cfg(test)]
mod tests;
pub mod workload;

use clap::{Parser, Subcommand};

use crate::app::{shutdown_signal, App};
use crate::{bench as benchmarks, client, demo as demo_run, telemetry};
use bench::BenchCommand;
use config::{CommandLine, ConfigCommand};
use demo::DemoArgs;
use keys::KeysCommand;
use publish::PublishArgs;
use search::SearchArgs;
use serve::ServeArgs;
use tail::TailArgs;

/// `aggregator`: an actor-based pub-sub log aggregator. Without a subcommand it runs `serve`.
#[derive(Debug, Parser)]
#[command(
    name = "aggregator",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// What to run; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of the implicit `serve`.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the aggregator's HTTP API (the default).
    Serve(Box<ServeArgs>),
    /// Publish a generated workload to a running aggregator and verify its counts.
    Publish(PublishArgs),
    /// Follow the events an aggregator stores, as they are committed (Ctrl-C stops).
    Tail(TailArgs),
    /// Print the events a search matches (or how many): `search 'level:error' --since 1h`.
    Search(SearchArgs),
    /// Start an aggregator in-process, publish a verified workload to it, keep serving.
    Demo(DemoArgs),
    /// Measurements (not tests): e.g. the storage ceiling.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Manage API keys: `keys add NAME --scopes publish --topics orders.`, `keys list`.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The `--config` file: `config check [FILE]` shows the configuration in force,
    /// `config example` prints a complete file.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// Runs what the command line asks for.
pub async fn run(line: CommandLine) -> anyhow::Result<()> {
    let cli = &line.cli;
    match &cli.command {
        None => serve(&cli.serve).await,
        Some(Command::Serve(args)) => serve(args).await,
        Some(Command::Publish(args)) => {
            telemetry::init_for_client();
            client::run(args.config()).await.map(drop)
        }
        Some(Command::Tail(args)) => {
            telemetry::init_for_client();
            tail::run(args).await
        }
        Some(Command::Search(args)) => {
            telemetry::init_for_client();
            search::run(args).await
        }
        Some(Command::Demo(args)) => {
            telemetry::init_for_client();
            demo_run::run(args.config()).await
        }
        Some(Command::Bench(BenchCommand::Ceiling(args))) => {
            benchmarks::ceiling::run(args.config()).await.map(drop)
        }
        Some(Command::Keys(command)) => keys::run(command),
        Some(Command::Config(ConfigCommand::Check(args))) => config::check(&line, args),
        Some(Command::Config(ConfigCommand::Example)) => {
            print!("{}", config::example());
            Ok(())
        }
    }
}

async fn serve(args: &ServeArgs) -> anyhow::Result<()> {
    telemetry::init(args.log_format());
    for deprecated in args.deprecations() {
        tracing::warn!(
            old = deprecated.old,
            new = deprecated.new,
            "a deprecated flag (or its variable) is in use; it keeps working, but write the new \
             one with a duration such as 250ms, 2s or 5m"
        );
    }
    App::build(args.config())
        .await?
        .run_until_stopped(shutdown_signal())
        .await
}
