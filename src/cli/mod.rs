//! The edge: the command line, the only clap code and the only place that knows every
//! subcommand. Each flag has an environment-variable fallback and its default in the layer it
//! configures; each subcommand's flags convert into that layer's plain config ([`AppConfig`],
//! [`PublishConfig`], [`DemoConfig`], [`CeilingConfig`]), and [`run`] hands it over. Nothing
//! below this module sees a clap type.
//!
//! [`parse_command_line`] puts the `--config` file under the flags: a first, lenient pass finds
//! the command and its file (`--config`, `AGG_CONFIG`, or `config check`'s FILE); the file's
//! values become the defaults of the arguments they set ([`config_file::layer`]); the second
//! pass is the real one, so flags and variables override the file, and its matches say where
//! each value came from.
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

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::app::{shutdown_signal, App};
use crate::{bench as benchmarks, client, demo as demo_run, telemetry};
use bench::BenchCommand;
use config::ConfigCommand;
use config_file::{ConfigFile, ConfigFileError};
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

/// A parsed command line and the config file under it.
#[derive(Debug)]
pub struct CommandLine {
    /// What to run.
    pub cli: Cli,
    /// The matches the `Cli` was made from: where each value came from.
    pub matches: ArgMatches,
    /// The config file, when one was given.
    pub file: Option<ConfigFile>,
}

/// A command line that cannot run.
#[derive(Debug, thiserror::Error)]
pub enum CommandLineError {
    /// A flag or variable is wrong (or `--help`/`--version` was asked for).
    #[error(transparent)]
    Arguments(#[from] clap::Error),
    /// The config file is unreadable or wrong.
    #[error(transparent)]
    File(#[from] ConfigFileError),
}

impl CommandLineError {
    /// Prints the error (or the help asked for) and exits: 2 for a usage error, as clap does.
    pub fn exit(self) -> ! {
        match self {
            Self::Arguments(err) => err.exit(),
            Self::File(err) => {
                eprintln!("error: {err}");
                std::process::exit(2)
            }
        }
    }
}

/// Parses `args` (the program name first) with the config file under the flags.
pub fn parse_command_line<I, T>(args: I) -> Result<CommandLine, CommandLineError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let mut command = Cli::command();
    let mut file = None;
    if let Ok(first) = Cli::command()
        .ignore_errors(true)
        .try_get_matches_from(&args)
    {
        if let Some((path, serve)) = serve_matches(&first) {
            if let Some(file_path) = config_path(serve) {
                let loaded = ConfigFile::load(&file_path, &command)?;
                command = config_file::layer(command, &path, &loaded, serve);
                file = Some(loaded);
            }
        }
    }
    let matches = command.try_get_matches_from(&args)?;
    let cli = Cli::from_arg_matches(&matches)?;
    Ok(CommandLine { cli, matches, file })
}

/// The subcommand path whose arguments are `serve`'s, and its matches.
fn serve_matches(matches: &ArgMatches) -> Option<(Vec<&'static str>, &ArgMatches)> {
    match matches.subcommand() {
        None => Some((Vec::new(), matches)),
        Some(("serve", serve)) => Some((vec!["serve"], serve)),
        Some(("config", config)) => match config.subcommand() {
            Some(("check", check)) => Some((vec!["config", "check"], check)),
            _ => None,
        },
        Some(_) => None,
    }
}

fn config_path(matches: &ArgMatches) -> Option<PathBuf> {
    ["file", "config"].into_iter().find_map(|id| {
        matches
            .try_get_one::<PathBuf>(id)
            .ok()
            .flatten()
            .filter(|path| !path.as_os_str().is_empty())
            .cloned()
    })
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
        Some(Command::Config(ConfigCommand::Check(args))) => {
            let matches = line
                .matches
                .subcommand_matches("config")
                .and_then(|config| config.subcommand_matches("check"))
                .ok_or_else(|| anyhow::anyhow!("`config check` was not parsed as such"))?;
            config::check(args, matches, line.file.as_ref())
        }
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
