//! `aggregator keys add` and `aggregator keys list`: manage the keys file without a running
//! server. `add` prints the new key once, on stdout alone (so `KEY=$(aggregator keys add …)`
//! works), or writes it to a file readable by its owner only (`--key-file`, as a one-shot
//! container does for the others), and stores only its digest; with `--if-absent` it does
//! nothing when the name is already in the keys file, so it can run at every start. `list` never
//! shows a key or a digest.

use std::num::NonZeroU32;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::auth::file::{append_key, check_name, read_keys_file};
use crate::auth::{generate_key, KeyEntry, Quota, Scope};

/// The `keys` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key: print it once and append its digest to the keys file.
    Add(KeysAddArgs),
    /// Show the keys file's names, scopes, topic prefixes and quotas.
    List(KeysListArgs),
}

/// `aggregator keys add`.
#[derive(Debug, Args)]
pub struct KeysAddArgs {
    /// The key's name: unique, shown in logs and metrics (letters, digits, '.', '_', '-').
    #[arg(value_parser = parse_name)]
    pub name: String,
    /// What the key may do: publish, read, admin (comma-separated).
    #[arg(long, value_delimiter = ',', required = true)]
    pub scopes: Vec<Scope>,
    /// Topic prefixes the key may publish to and read (comma-separated); every topic when
    /// absent.
    #[arg(long, value_delimiter = ',')]
    pub topics: Vec<String>,
    /// Events per second the key may publish (no limit when absent).
    #[arg(long)]
    pub quota: Option<NonZeroU32>,
    /// Events the key may publish at once after a pause (default: --quota).
    #[arg(long, requires = "quota")]
    pub burst: Option<NonZeroU32>,
    /// The keys file (created, readable by its owner only, when absent).
    #[arg(long, env = "AGG_KEYS_FILE", default_value = "keys.toml")]
    pub keys_file: PathBuf,
    /// Write the new key to this file (created readable by its owner only) instead of stdout.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// Do nothing when the keys file already holds a key of this name.
    #[arg(long)]
    pub if_absent: bool,
}

/// `aggregator keys list`.
#[derive(Debug, Args)]
pub struct KeysListArgs {
    /// The keys file.
    #[arg(long, env = "AGG_KEYS_FILE", default_value = "keys.toml")]
    pub keys_file: PathBuf,
}

fn parse_name(raw: &str) -> Result<String, String> {
    check_name(raw).map(|()| raw.to_owned())
}

/// Runs a `keys` subcommand.
pub fn run(command: &KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Add(args) => add(args),
        KeysCommand::List(args) => list(args),
    }
}

fn add(args: &KeysAddArgs) -> anyhow::Result<()> {
    if args.if_absent && args.keys_file.exists() {
        let entries = read_keys_file(&args.keys_file).context("failed to read the keys file")?;
        if entries.iter().any(|entry| entry.name == args.name) {
            eprintln!(
                "key {:?} is already in {}; nothing to do",
                args.name,
                args.keys_file.display()
            );
            return Ok(());
        }
    }
    let (key, digest) = generate_key();
    let entry = KeyEntry {
        name: args.name.clone(),
        hash: digest.to_string(),
        scopes: args.scopes.clone(),
        topics: args
            .topics
            .iter()
            .filter(|t| !t.is_empty())
            .cloned()
            .collect(),
        quota: args.quota.map(|events_per_second| Quota {
            events_per_second,
            burst: args.burst,
        }),
    };
    if let Some(path) = &args.key_file {
        // The key first: a keys file naming a key nobody holds would be worse than a key file
        // left behind by a failed append.
        write_private(path, &format!("{key}\n"))
            .with_context(|| format!("failed to write the key to {}", path.display()))?;
    }
    append_key(&args.keys_file, &entry).context("failed to add the key")?;
    match &args.key_file {
        Some(path) => eprintln!(
            "added key {:?} to {}; the key is in {}, readable by its owner only",
            args.name,
            args.keys_file.display(),
            path.display()
        ),
        None => {
            eprintln!(
                "added key {:?} to {}; it is shown once, below, and stored nowhere:",
                args.name,
                args.keys_file.display()
            );
            println!("{key}");
        }
    }
    Ok(())
}

/// Writes `text` to a new file that only its owner may read.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

fn list(args: &KeysListArgs) -> anyhow::Result<()> {
    let entries = read_keys_file(&args.keys_file).context("failed to read the keys file")?;
    println!("{:<24} {:<20} {:<32} QUOTA", "NAME", "SCOPES", "TOPICS");
    for entry in entries {
        let scopes: Vec<&str> = entry.scopes.iter().map(|scope| scope.as_str()).collect();
        let topics = match entry.topics.is_empty() {
            true => "(all)".to_string(),
            false => entry.topics.join(","),
        };
        let quota = match entry.quota {
            Some(quota) => format!(
                "{}/s, burst {}",
                quota.events_per_second,
                quota.burst_size()
            ),
            None => "(none)".to_string(),
        };
        println!(
            "{:<24} {:<20} {:<32} {quota}",
            entry.name,
            scopes.join(","),
            topics
        );
    }
    Ok(())
}
