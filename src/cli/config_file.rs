//! The `--config` file of `aggregator serve`: one TOML file with a section per concern, and the
//! table that names each of its keys after the `serve` argument it sets.
//!
//! The file does not have a settings type of its own. Each `section.key` maps to one clap
//! argument of [`ServeArgs`](super::serve::ServeArgs); loading the file checks every value with
//! that argument's own parser (so a file, a flag and a variable refuse the same values with the
//! same reason), and [`layer`] makes the file's values the arguments' defaults. Clap's
//! precedence (command line, then environment, then default) then gives the documented order
//! flag > environment > file > built-in default, and `ArgMatches::value_source` tells which of
//! them a value came from. A settings struct deserialised with serde (or figment's layering) was
//! the alternative; it would spell every setting a second time beside its flag, its variable and
//! its parser, and the two lists would drift.

use std::ffi::{OsStr, OsString};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::actors::config as tree;
use crate::app;
use crate::store::options as store;

use self::Shape::{Duration as Dur, List, Number, Rules, Switch, Text};

/// How a setting is written in the file (and printed by `config check` and `config example`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A string.
    Text,
    /// A whole number.
    Number,
    /// `true` or `false`.
    Switch,
    /// A duration as a string (`"250ms"`, `"2s"`, `"5m"`), or a number of seconds.
    Duration,
    /// An array of strings.
    List,
    /// A table of `"PATTERN" = "DURATION"` retention rules.
    Rules,
}

/// One key of the file and the `serve` argument it sets.
#[derive(Debug)]
pub struct Setting {
    /// The `[section]` it belongs to.
    pub section: &'static str,
    /// Its key within the section.
    pub key: &'static str,
    /// The clap id of the `serve` argument.
    pub arg: &'static str,
    /// How it is written.
    pub shape: Shape,
    /// The hidden, deprecated argument that sets the same thing as a bare number of
    /// milliseconds or seconds, when there is one.
    pub deprecated_alias: Option<DeprecatedAlias>,
    /// A value to show commented out in `config example` when the setting has no default.
    pub example: Option<&'static str>,
    /// What leaving it unset means, when it has no default value.
    pub unset_means: Option<&'static str>,
    /// Whether `config check` must not print the value as it is (a password in a URL).
    pub secret: bool,
}

impl Setting {
    const fn new(
        section: &'static str,
        key: &'static str,
        arg: &'static str,
        shape: Shape,
    ) -> Self {
        Self {
            section,
            key,
            arg,
            shape,
            deprecated_alias: None,
            example: None,
            unset_means: None,
            secret: false,
        }
    }

    const fn replacing(mut self, arg: &'static str, unit: &'static str, default: Duration) -> Self {
        self.deprecated_alias = Some(DeprecatedAlias { arg, unit, default });
        self
    }

    const fn example(mut self, example: &'static str) -> Self {
        self.example = Some(example);
        self
    }

    const fn unset_means(mut self, meaning: &'static str) -> Self {
        self.unset_means = Some(meaning);
        self
    }

    const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    /// `section.key`, as errors and `config check` name it.
    pub fn name(&self) -> String {
        format!("{}.{}", self.section, self.key)
    }
}

/// A deprecated argument spelling a duration setting as a bare number. Given on the command
/// line or in the environment, it beats the file's value as any flag does. Because clap must
/// tell a given value of the new argument from a default one (the new one wins only when
/// given), the setting's default lives here and in the layer, not in clap.
#[derive(Debug, Clone, Copy)]
pub struct DeprecatedAlias {
    /// The alias's clap id.
    pub arg: &'static str,
    /// The unit of its number, as a duration writes it (`ms`, `s`).
    pub unit: &'static str,
    /// The setting's value when neither it nor the alias is given.
    pub default: Duration,
}

/// The sections, in the order `config example` and `config check` print them, each with what
/// it configures.
pub const SECTIONS: &[(&str, &str)] = &[
    (
        "http",
        "The HTTP server: its address, connections, log format and shutdown.",
    ),
    (
        "limits",
        "What one request may ask for; past a limit a client gets a 4xx or 429.",
    ),
    (
        "store",
        "Where events are stored: PostgreSQL, or the embedded store without a URL.",
    ),
    (
        "shards",
        "The shard actors, how they group events into commits, and their restarts.",
    ),
    ("stream", "Live tails (GET /events/stream)."),
    (
        "retention",
        "How long events are kept, and how the pruner deletes expired ones.",
    ),
    ("auth", "API keys."),
    ("tls", "HTTPS, on when both files are given."),
    (
        "otlp",
        "OpenTelemetry logs (POST /v1/logs): the topic of each record.",
    ),
    (
        "loki",
        "The Loki push API (POST /loki/api/v1/push): the topic of each line.",
    ),
];

/// Every setting of `serve` the file can hold (all but `--config` itself, the deprecated
/// spellings and the chaos-testing switches, which are for test runs only).
pub const SETTINGS: &[Setting] = &[
    Setting::new("http", "bind", "bind", Text),
    Setting::new("http", "log_format", "log_format", Text),
    Setting::new("http", "shutdown_timeout", "shutdown_timeout", Dur).replacing(
        "shutdown_timeout_ms",
        "ms",
        app::DEFAULT_SHUTDOWN_TIMEOUT,
    ),
    Setting::new("http", "max_connections", "max_connections", Number),
    Setting::new(
        "http",
        "reserved_connections",
        "reserved_connections",
        Number,
    ),
    Setting::new(
        "http",
        "max_concurrent_requests",
        "max_concurrent_requests",
        Number,
    ),
    Setting::new("http", "header_read_timeout", "header_read_timeout", Dur),
    Setting::new("http", "body_read_timeout", "body_read_timeout", Dur),
    Setting::new("http", "idle_timeout", "idle_timeout", Dur),
    Setting::new("http", "max_connection_age", "max_connection_age", Dur),
    Setting::new("limits", "max_body_bytes", "max_body_bytes", Number),
    Setting::new(
        "limits",
        "max_buffered_body_bytes",
        "max_buffered_body_bytes",
        Number,
    ),
    Setting::new(
        "limits",
        "max_events_per_request",
        "max_events_per_request",
        Number,
    ),
    Setting::new("limits", "max_payload_depth", "max_payload_depth", Number),
    Setting::new("limits", "max_page_bytes", "max_page_bytes", Number),
    Setting::new("limits", "request_timeout", "request_timeout", Dur).replacing(
        "request_timeout_ms",
        "ms",
        tree::DEFAULT_INGEST_TIMEOUT,
    ),
    Setting::new(
        "limits",
        "max_inflight_events_per_shard",
        "max_inflight_events_per_shard",
        Number,
    ),
    Setting::new("store", "database_url", "database_url", Text)
        .example("postgres://aggregator:password@127.0.0.1:5432/aggregator")
        .unset_means("the embedded store in data_dir")
        .secret(),
    Setting::new("store", "data_dir", "data_dir", Text),
    Setting::new("store", "pool_size", "db_pool_size", Number),
    Setting::new("store", "timeout", "store_timeout", Dur).replacing(
        "store_timeout_ms",
        "ms",
        store::DEFAULT_TIMEOUT,
    ),
    Setting::new("store", "instance_id", "instance_id", Text),
    Setting::new("store", "query_timeout", "query_timeout", Dur),
    Setting::new(
        "store",
        "max_concurrent_queries",
        "max_concurrent_queries",
        Number,
    ),
    Setting::new("shards", "count", "shards", Number),
    Setting::new("shards", "batch_max_events", "batch_max_events", Number),
    Setting::new("shards", "batch_linger", "batch_linger", Dur).replacing(
        "batch_linger_ms",
        "ms",
        tree::DEFAULT_BATCH_LINGER,
    ),
    Setting::new("shards", "commits_in_flight", "commits_in_flight", Number),
    Setting::new("shards", "fastpath_keys", "fastpath_keys", Number),
    Setting::new("shards", "max_restarts", "max_restarts", Number),
    Setting::new("shards", "restart_window", "restart_window", Dur).replacing(
        "restart_window_secs",
        "s",
        tree::DEFAULT_RESTART_WINDOW,
    ),
    Setting::new("stream", "max_subscribers", "max_subscribers", Number),
    Setting::new("stream", "heartbeat", "stream_heartbeat", Dur),
    Setting::new("retention", "default", "retention", Text),
    Setting::new("retention", "file", "retention_file", Text)
        .example("/etc/aggregator/retention.rules")
        .unset_means("no rules file"),
    Setting::new("retention", "prune_batch_rows", "prune_batch_rows", Number),
    Setting::new("retention", "prune_interval", "prune_interval", Dur)
        .example("30s")
        .unset_means("a tenth of the shortest retention, within 200ms and 1m"),
    Setting::new("retention", "rules", "retention_rules", Rules)
        .unset_means("every topic follows the default"),
    Setting::new("auth", "keys_file", "keys_file", Text)
        .example("/etc/aggregator/keys.toml")
        .unset_means(
            "no API keys: only a loopback address is served, unless allow_unauthenticated",
        ),
    Setting::new(
        "auth",
        "allow_unauthenticated",
        "allow_unauthenticated",
        Switch,
    ),
    Setting::new("auth", "keys_check_interval", "keys_check_interval", Dur),
    Setting::new("tls", "cert", "tls_cert", Text)
        .example("/etc/aggregator/tls/cert.pem")
        .unset_means("plain HTTP"),
    Setting::new("tls", "key", "tls_key", Text)
        .example("/etc/aggregator/tls/key.pem")
        .unset_means("plain HTTP"),
    Setting::new("otlp", "topic", "otlp_topic", Text),
    Setting::new("otlp", "default_topic", "otlp_default_topic", Text),
    Setting::new("loki", "topic_labels", "loki_topic_label", List),
    Setting::new("loki", "default_topic", "loki_default_topic", Text),
];

/// A config file that could not be used, naming the file, the line and the reason.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// The file cannot be read.
    #[error("cannot read the config file {}: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or holds a key or value `serve` does not take.
    #[error("{}:{line}: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The line (from 1) of the offending key or value.
        line: usize,
        /// What is wrong and what is allowed.
        reason: String,
    },
}

/// One value the file sets.
#[derive(Debug, Clone)]
pub struct FileValue {
    /// What it sets.
    pub setting: &'static Setting,
    /// The value(s) as the flag would take them (one per repetition for lists and rules).
    pub values: Vec<String>,
    /// The line of its key.
    pub line: usize,
}

/// A loaded and checked config file.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// The values it sets, in the file's order.
    pub values: Vec<FileValue>,
}

impl ConfigFile {
    /// Reads `path` and checks every value with the parser of the argument it sets in
    /// `command` (whose arguments include `serve`'s).
    pub fn load(path: &Path, command: &Command) -> Result<Self, ConfigFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Unreadable {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text, command)
    }

    /// Checks `text` as the contents of `path`.
    pub fn parse(path: &Path, text: &str, command: &Command) -> Result<Self, ConfigFileError> {
        let invalid = |span: Range<usize>, reason: String| ConfigFileError::Invalid {
            path: path.to_owned(),
            line: line_of(text, span.start),
            reason,
        };
        let document = DeTable::parse(text).map_err(|err| {
            let span = err.span().unwrap_or(0..0);
            invalid(span, format!("not valid TOML: {}", err.message()))
        })?;
        let mut values = Vec::new();
        for (section, body) in document.get_ref() {
            let DeValue::Table(body) = body.get_ref() else {
                return Err(invalid(
                    section.span(),
                    format!(
                        "`{}` is outside any section; settings go in one of {}",
                        section.get_ref(),
                        section_list()
                    ),
                ));
            };
            if !SECTIONS.iter().any(|(name, _)| name == section.get_ref()) {
                return Err(invalid(
                    section.span(),
                    format!(
                        "`[{}]` is not a section; the sections are {}",
                        section.get_ref(),
                        section_list()
                    ),
                ));
            }
            for (key, value) in body {
                let setting = SETTINGS
                    .iter()
                    .find(|s| s.section == section.get_ref() && s.key == key.get_ref())
                    .ok_or_else(|| {
                        invalid(
                            key.span(),
                            format!(
                                "`{}.{}` is not a setting; [{}] takes {}",
                                section.get_ref(),
                                key.get_ref(),
                                section.get_ref(),
                                key_list(section.get_ref())
                            ),
                        )
                    })?;
                let raw = flag_values(setting, value).map_err(|(span, reason)| {
                    invalid(span, format!("`{}` {reason}", setting.name()))
                })?;
                let written = text.get(value.span()).unwrap_or_default().trim();
                for one in &raw {
                    check_value(command, setting, one, written)
                        .map_err(|reason| invalid(value.span(), reason))?;
                }
                values.push(FileValue {
                    setting,
                    values: raw,
                    line: line_of(text, key.span().start),
                });
            }
        }
        let config = Self {
            path: path.to_owned(),
            values,
        };
        config.check_tls_pair()?;
        Ok(config)
    }

    /// The value the file gives `arg`, if any.
    pub fn value_of(&self, arg: &str) -> Option<&FileValue> {
        self.values.iter().find(|value| value.setting.arg == arg)
    }

    /// A certificate without its key (or the reverse) would leave HTTPS silently off.
    fn check_tls_pair(&self) -> Result<(), ConfigFileError> {
        match (self.value_of("tls_cert"), self.value_of("tls_key")) {
            (Some(only), None) | (None, Some(only)) => Err(ConfigFileError::Invalid {
                path: self.path.clone(),
                line: only.line,
                reason: "[tls] needs both `cert` and `key` (HTTPS is on only with both)"
                    .to_string(),
            }),
            _ => Ok(()),
        }
    }
}

/// Makes the file's values the defaults of the arguments they set, in the (sub)command that
/// `path` names under `command` (`[]` for the top level, `["serve"]`, `["config", "check"]`).
/// A value whose deprecated alias was given on the command line or in the environment is left
/// out, so that the alias wins over the file as any flag or variable does.
pub fn layer(
    command: Command,
    path: &[&'static str],
    file: &ConfigFile,
    given: &ArgMatches,
) -> Command {
    match path.split_first() {
        Some((name, rest)) => command.mut_subcommand(*name, |sub| layer(sub, rest, file, given)),
        None => file
            .values
            .iter()
            .filter(|value| {
                !value
                    .setting
                    .deprecated_alias
                    .is_some_and(|alias| given_explicitly(given, alias.arg))
            })
            .fold(command, |command, value| {
                let defaults: Vec<OsString> = value.values.iter().map(OsString::from).collect();
                command.mut_arg(value.setting.arg, |arg| {
                    // `--tls-cert` requires `--tls-key` on the command line; the file holds
                    // both or neither (checked when it loads), so either may now come alone.
                    let arg = if value.setting.section == "tls" {
                        arg.requires(clap::builder::Resettable::<clap::Id>::Reset)
                    } else {
                        arg
                    };
                    arg.default_values(defaults)
                })
            }),
    }
}

/// Whether `arg` was given on the command line or in the environment.
pub fn given_explicitly(matches: &ArgMatches, arg: &str) -> bool {
    matches!(
        matches.value_source(arg),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    )
}

/// The value(s) of a file entry as its flag takes them, or the span and reason it is refused.
fn flag_values(
    setting: &Setting,
    value: &Spanned<DeValue<'_>>,
) -> Result<Vec<String>, (Range<usize>, String)> {
    let wrong = |expected: &str| {
        Err((
            value.span(),
            format!("must be {expected}, not {}", value.get_ref().type_str()),
        ))
    };
    match (setting.shape, value.get_ref()) {
        (Shape::Rules, DeValue::Table(rules)) => rules
            .iter()
            .map(|(pattern, keep)| match keep.get_ref() {
                DeValue::String(keep) => Ok(format!("{}={keep}", pattern.get_ref())),
                other => Err((
                    keep.span(),
                    format!(
                        "rule `{}` must be a duration string such as \"1d\" or \"forever\", \
                         not {}",
                        pattern.get_ref(),
                        other.type_str()
                    ),
                )),
            })
            .collect(),
        (Shape::Rules, _) => wrong("a table of \"PATTERN\" = \"DURATION\" rules"),
        (Shape::List, DeValue::Array(items)) => items
            .iter()
            .map(|item| match item.get_ref() {
                DeValue::String(text) => Ok(text.to_string()),
                other => Err((
                    item.span(),
                    format!("must hold strings, not {}", other.type_str()),
                )),
            })
            .collect(),
        (Shape::List, DeValue::String(text)) => Ok(vec![text.to_string()]),
        (Shape::List, _) => wrong("an array of strings"),
        (_, DeValue::String(text)) => Ok(vec![text.to_string()]),
        (Shape::Number | Shape::Duration, DeValue::Integer(number)) => {
            i64::from_str_radix(number.as_str(), number.radix())
                .map(|number| vec![number.to_string()])
                .or_else(|_| wrong("a whole number"))
        }
        (Shape::Duration, DeValue::Float(number)) => Ok(vec![number.as_str().to_string()]),
        (Shape::Switch, DeValue::Boolean(switch)) => Ok(vec![switch.to_string()]),
        (Shape::Number, _) => wrong("a whole number"),
        (Shape::Duration, _) => wrong("a duration such as \"250ms\", \"2s\" or \"5m\""),
        (Shape::Switch, _) => wrong("true or false"),
        (Shape::Text, _) => wrong("a string"),
    }
}

/// Runs `raw` through the parser of the setting's argument; the reason names the setting.
fn check_value(
    command: &Command,
    setting: &Setting,
    raw: &str,
    written: &str,
) -> Result<(), String> {
    let Some(arg) = command
        .get_arguments()
        .find(|arg| arg.get_id() == setting.arg)
    else {
        return Err(format!("`{}` has no argument to set", setting.name()));
    };
    // A one-argument command with the same value parser: clap keeps the parsing of a single
    // value to itself, and the argument's relations (`requires`) must not come along.
    let long = arg.get_long().unwrap_or(setting.arg);
    let probe = Arg::new("value")
        .long(long.to_string())
        .value_name(setting.key)
        .action(ArgAction::Set)
        .value_parser(arg.get_value_parser().clone());
    let flag = format!("--{long}");
    Command::new("aggregator")
        .no_binary_name(true)
        .arg(probe)
        .try_get_matches_from([OsStr::new(&flag), OsStr::new(raw)])
        .map(drop)
        .map_err(|err| {
            let expected = match setting.shape {
                Shape::Number if written.starts_with('"') => " (a whole number is expected)",
                _ => "",
            };
            format!(
                "`{}` = {written}: {}{expected}",
                setting.name(),
                clap_reason(&err)
            )
        })
}

/// The reason inside a clap error, without its `error:` prefix, usage and help hint.
pub fn clap_reason(err: &clap::Error) -> String {
    if let Some(source) = std::error::Error::source(err) {
        return source.to_string();
    }
    err.render()
        .to_string()
        .lines()
        .map(str::trim)
        .take_while(|line| !line.starts_with("For more information"))
        .filter(|line| !line.is_empty() && !line.starts_with("Usage:"))
        .map(|line| line.trim_start_matches("error: "))
        .collect::<Vec<_>>()
        .join(" ")
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(1, |before| before.matches('\n').count() + 1)
}

fn section_list() -> String {
    SECTIONS
        .iter()
        .map(|(name, _)| format!("[{name}]"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn key_list(section: &str) -> String {
    SETTINGS
        .iter()
        .filter(|setting| setting.section == section)
        .map(|setting| setting.key)
        .collect::<Vec<_>>()
        .join(", ")
}
