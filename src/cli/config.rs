//! `aggregator config check [FILE]` and `aggregator config example`: the configuration in force,
//! printed as a config file with each value commented with where it came from (default, file,
//! environment, flag), and a complete commented file at the defaults. Both are made from the
//! same `serve` arguments and [`SETTINGS`] table the `--config` file is read with.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, Args, Command, Subcommand};

use super::config_file::{self, ConfigFile, Setting, Shape, SECTIONS, SETTINGS};
use super::serve::ServeArgs;
use crate::app;

/// `aggregator config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check a config file, with the environment and flags over it, as `serve` would, and print
    /// the configuration in force with where each value came from (secrets hidden).
    Check(Box<ConfigCheckArgs>),
    /// Print a complete config file: every setting, commented, at its default.
    Example,
}

/// Everything `aggregator config check` takes: a file and any flag of `serve`.
#[derive(Debug, Args)]
pub struct ConfigCheckArgs {
    /// The config file to check [default: --config, or AGG_CONFIG].
    pub file: Option<PathBuf>,
    /// Flags of `serve`, which override the file as they would there.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// `aggregator config check`: runs the checks `serve` runs before it binds and prints the
/// configuration in force.
/// `matches` are `config check`'s own (where each value came from), `file` the config file
/// under them.
pub fn check(
    args: &ConfigCheckArgs,
    matches: &ArgMatches,
    file: Option<&ConfigFile>,
) -> anyhow::Result<()> {
    app::preflight(&args.serve.config())?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# The configuration `aggregator serve` runs with{}.\n# Flags win over environment \
         variables, which win over the file, which wins over defaults.",
        file.map(|file| format!(", file {}", file.path.display()))
            .unwrap_or_default()
    );
    for deprecated in args.serve.deprecations() {
        let _ = writeln!(
            out,
            "# warning: {} is deprecated; write {} with a duration such as 250ms, 2s or 5m",
            deprecated.old, deprecated.new
        );
    }
    let command = built_command();
    for (section, _) in SECTIONS {
        let _ = writeln!(out, "\n[{section}]");
        let mut rules = None;
        for setting in SETTINGS.iter().filter(|s| s.section == *section) {
            let Some((values, source)) = in_force(setting, matches, file) else {
                let _ = writeln!(out, "# {} is not set{}", setting.key, meaning(setting));
                continue;
            };
            if setting.shape == Shape::Rules {
                rules = Some((values, source));
                continue;
            }
            let assignment = format!("{} = {}", setting.key, render(setting, &values, true));
            let source = source.describe(&command, setting.arg);
            let _ = writeln!(out, "{assignment:<46} # {source}");
        }
        if let Some((values, source)) = rules {
            let source = source.describe(&command, "retention_rules");
            let _ = writeln!(out, "\n[{section}.rules]  # {source}");
            for rule in values {
                let (pattern, keep) = rule.split_once('=').unwrap_or((&rule, ""));
                let _ = writeln!(out, "{} = {}", quoted(pattern), quoted(keep));
            }
        }
    }
    print!("{out}");
    Ok(())
}

/// `aggregator config example`: a complete config file, each setting at its default.
pub fn example() -> String {
    let command = built_command();
    let mut out = String::from(
        "# Configuration of `aggregator serve`: `aggregator serve --config FILE` (or AGG_CONFIG).\n\
         # Flags and environment variables override the file; `aggregator config check FILE`\n\
         # shows the configuration in force and where each value came from. Durations are\n\
         # written \"250ms\", \"2s\", \"5m\", \"1h\"; lines starting with # are comments.\n",
    );
    for (section, about) in SECTIONS {
        let _ = writeln!(out, "\n# {about}\n[{section}]");
        for setting in SETTINGS.iter().filter(|s| s.section == *section) {
            let arg = argument(&command, setting.arg);
            out.push('\n');
            for line in help_lines(arg) {
                let _ = writeln!(out, "# {line}");
            }
            let _ = writeln!(out, "# {}", names(arg));
            if setting.shape == Shape::Rules {
                let _ = writeln!(
                    out,
                    "[{section}.rules]\n# \"debug.*\" = \"1d\"\n# audit = \"forever\""
                );
                continue;
            }
            let defaults = default_values(setting, arg);
            match (defaults.is_empty(), setting.example) {
                (false, _) => {
                    let _ = writeln!(
                        out,
                        "{} = {}",
                        setting.key,
                        render(setting, &defaults, false)
                    );
                }
                (true, Some(example)) => {
                    let _ = writeln!(
                        out,
                        "# unset: {}\n# {} = {}",
                        setting.unset_means.unwrap_or("no value"),
                        setting.key,
                        render(setting, &[example.to_string()], false)
                    );
                }
                (true, None) => {
                    let _ = writeln!(out, "# {} is not set{}", setting.key, meaning(setting));
                }
            }
        }
    }
    out
}

/// Where a value in force came from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Default,
    File {
        line: usize,
    },
    Environment,
    Flag,
    /// Given through the deprecated argument with this id.
    Deprecated {
        alias: &'static str,
        source: Box<Source>,
    },
}

impl Source {
    fn of(matches: &ArgMatches, arg: &str, file: Option<&ConfigFile>) -> Option<Self> {
        Some(match matches.value_source(arg)? {
            ValueSource::CommandLine => Self::Flag,
            ValueSource::EnvVariable => Self::Environment,
            _ => match file.and_then(|file| file.value_of(arg)) {
                Some(value) => Self::File { line: value.line },
                None => Self::Default,
            },
        })
    }

    fn describe(&self, command: &Command, arg: &str) -> String {
        let arg_named = argument(command, arg);
        match self {
            Self::Default => "default".to_string(),
            Self::File { line } => format!("file, line {line}"),
            Self::Environment => format!(
                "env {}",
                arg_named
                    .and_then(Arg::get_env)
                    .map(|env| env.to_string_lossy().into_owned())
                    .unwrap_or_default()
            ),
            Self::Flag => format!(
                "flag --{}",
                arg_named.and_then(Arg::get_long).unwrap_or_default()
            ),
            Self::Deprecated { alias, source } => {
                format!("{} (deprecated)", source.describe(command, alias))
            }
        }
    }
}

/// The value(s) in force for `setting` and where they came from; `None` when it is unset.
fn in_force(
    setting: &Setting,
    matches: &ArgMatches,
    file: Option<&ConfigFile>,
) -> Option<(Vec<String>, Source)> {
    if let Some(alias) = setting.deprecated_alias {
        if config_file::given_explicitly(matches, alias.arg)
            && !config_file::given_explicitly(matches, setting.arg)
        {
            let values = raw_values(matches, alias.arg)
                .into_iter()
                .map(|number| format!("{number}{}", alias.unit))
                .collect();
            let source = Source::of(matches, alias.arg, None)?;
            return Some((
                values,
                Source::Deprecated {
                    alias: alias.arg,
                    source: Box::new(source),
                },
            ));
        }
    }
    match Source::of(matches, setting.arg, file) {
        Some(source) => Some((raw_values(matches, setting.arg), source)),
        None => implicit_default(setting).map(|value| (vec![value], Source::Default)),
    }
}

fn raw_values(matches: &ArgMatches, arg: &str) -> Vec<String> {
    matches
        .get_raw(arg)
        .map(|values| {
            values
                .map(|value| value.to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The default of a setting that clap leaves unset because of its deprecated alias.
fn implicit_default(setting: &Setting) -> Option<String> {
    setting
        .deprecated_alias
        .map(|alias| humantime::format_duration(alias.default).to_string())
}

fn default_values(setting: &Setting, arg: Option<&Arg>) -> Vec<String> {
    let declared: Vec<String> = arg
        .map(|arg| {
            arg.get_default_values()
                .iter()
                .map(|value| value.to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    if declared.is_empty() {
        implicit_default(setting).into_iter().collect()
    } else {
        declared
    }
}

/// A value as the file writes it (secrets hidden when `hide_secrets`).
fn render(setting: &Setting, values: &[String], hide_secrets: bool) -> String {
    let first = values.first().map(String::as_str).unwrap_or_default();
    match setting.shape {
        _ if setting.secret && hide_secrets => quoted(&redact(first)),
        Shape::Number if first.parse::<u64>().is_ok() => first.to_string(),
        Shape::Switch if matches!(first, "true" | "false") => first.to_string(),
        Shape::List | Shape::Rules => format!(
            "[{}]",
            values
                .iter()
                .map(|value| quoted(value))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => quoted(first),
    }
}

fn quoted(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// A connection string with its password replaced by `***`: the URL form
/// (`postgres://user:password@host/db`, `?password=`) and the key-value form (`password=`).
pub fn redact(connection: &str) -> String {
    let mut redacted = connection.to_string();
    if let Some((scheme, rest)) = connection.split_once("://") {
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            if let Some(colon) = rest[..at].find(':') {
                redacted = format!("{scheme}://{}:***{}", &rest[..colon], &rest[at..]);
            }
        }
    }
    let mut out = String::with_capacity(redacted.len());
    let mut rest = redacted.as_str();
    while let Some(found) = rest.find("password=") {
        let start = found + "password=".len();
        out.push_str(&rest[..start]);
        out.push_str("***");
        rest = &rest[start..];
        let end = rest.find(['&', ' ']).unwrap_or(rest.len());
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// `serve`'s arguments, built, so that their implied defaults (`false` for a switch) are filled
/// in.
fn built_command() -> Command {
    let mut command = ServeArgs::augment_args(Command::new("serve"));
    command.build();
    command
}

/// `: plain HTTP`, what an unset setting means, when it says.
fn meaning(setting: &Setting) -> String {
    setting
        .unset_means
        .map(|meaning| format!(": {meaning}"))
        .unwrap_or_default()
}

fn argument<'a>(command: &'a Command, id: &str) -> Option<&'a Arg> {
    command.get_arguments().find(|arg| arg.get_id() == id)
}

/// `flag --bind, env AGG_BIND`.
fn names(arg: Option<&Arg>) -> String {
    let Some(arg) = arg else {
        return String::new();
    };
    let mut names = format!("flag --{}", arg.get_long().unwrap_or_default());
    if let Some(env) = arg.get_env() {
        let _ = write!(names, ", env {}", env.to_string_lossy());
    }
    names
}

/// The argument's help, wrapped for a comment block.
fn help_lines(arg: Option<&Arg>) -> Vec<String> {
    let help = arg
        .and_then(|arg| arg.get_long_help().or_else(|| arg.get_help()))
        .map(ToString::to_string)
        .unwrap_or_default();
    // The value line below shows the default; the help's own `[default: ...]` would repeat it.
    let help = match help.find("[default:") {
        Some(at) => help[..at].trim_end().to_string(),
        None => help,
    };
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in help.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > 94 {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_in_both_connection_forms() {
        assert_eq!(
            redact("postgres://agg:s3cret@db:5432/agg"),
            "postgres://agg:***@db:5432/agg"
        );
        assert_eq!(
            redact("postgres://db/agg?user=agg&password=s3cret&sslmode=require"),
            "postgres://db/agg?user=agg&password=***&sslmode=require"
        );
        assert_eq!(
            redact("host=db user=agg password=s3cret dbname=agg"),
            "host=db user=agg password=*** dbname=agg"
        );
        assert_eq!(redact("postgres://agg@db/agg"), "postgres://agg@db/agg");
    }
}
