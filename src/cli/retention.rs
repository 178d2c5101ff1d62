//! `aggregator serve` flags of retention: the policy (a default, rules per topic from flags
//! and from a file) and the pruner's pace, turned into [`RetentionConfig`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::parse;
use crate::actors::config::DEFAULT_PRUNE_BATCH_ROWS;
use crate::actors::RetentionConfig;
use crate::retention::{Keep, RetentionPolicy, RetentionRule};

/// How long events are kept, and how the pruner deletes the expired ones.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Retention")]
pub struct RetentionArgs {
    /// How long events are kept after they were stored (e.g. 90s, 12h, 30d), or `forever`.
    /// Topics with a rule of their own (--retention-rule, --retention-file) follow it instead.
    #[arg(long, env = "AGG_RETENTION", default_value = "forever", value_parser = Keep::parse)]
    pub retention: Keep,
    /// A retention for some topics: `PATTERN=DURATION`, where PATTERN is a topic or a prefix
    /// ending in `*` (e.g. `debug.*=1d`, `audit=forever`). Repeatable (comma-separated in the
    /// environment); the most specific pattern wins, and these override the file's.
    #[arg(long = "retention-rule", env = "AGG_RETENTION_RULES", value_delimiter = ',',
          value_parser = RetentionRule::parse)]
    pub retention_rules: Vec<RetentionRule>,
    /// A file of retention rules, one `PATTERN = DURATION` per line (`#` starts a comment).
    #[arg(long, env = "AGG_RETENTION_FILE", value_parser = rules_file)]
    pub retention_file: Option<RulesFile>,
    /// Most rows one deletion statement of the pruner removes (one sweep of the default
    /// retention examines).
    #[arg(long, env = "AGG_PRUNE_BATCH_ROWS", default_value_t = DEFAULT_PRUNE_BATCH_ROWS,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub prune_batch_rows: u32,
    /// How often the pruner walks every topic (e.g. 30s); by default a tenth of the shortest
    /// retention, within 200ms and 1m.
    #[arg(long, env = "AGG_PRUNE_INTERVAL", value_parser = parse::period)]
    pub prune_interval: Option<Duration>,
}

/// The rules of a `--retention-file`, read when the flags are parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesFile {
    path: PathBuf,
    rules: Vec<RetentionRule>,
}

/// Reads and parses a rules file; an error names the file and the line.
fn rules_file(raw: &str) -> Result<RulesFile, String> {
    let path = PathBuf::from(raw);
    let text = std::fs::read_to_string(&path)
        .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    let rules = RetentionPolicy::parse_rules(&text)
        .map_err(|reason| format!("{}: {reason}", path.display()))?;
    Ok(RulesFile { path, rules })
}

impl RetentionArgs {
    /// The retention settings: the file's rules first, so that a flag's rule for the same
    /// pattern overrides them.
    pub fn config(&self) -> RetentionConfig {
        let mut rules = Vec::new();
        if let Some(file) = &self.retention_file {
            rules.extend(file.rules.iter().cloned());
        }
        rules.extend(self.retention_rules.iter().cloned());
        RetentionConfig {
            policy: Arc::new(RetentionPolicy::new(self.retention, rules)),
            batch_rows: self.prune_batch_rows,
            prune_interval: self.prune_interval,
        }
    }
}
