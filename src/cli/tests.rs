//! The command line parses into the same configs the layers default to, and refuses nonsense.

use clap::{CommandFactory, Parser};

use super::*;
use crate::app::AppConfig;
use crate::client::PublishConfig;

#[test]
fn the_cli_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn serve_without_flags_is_the_default_app_config() {
    let cli = Cli::try_parse_from(["aggregator"]).unwrap();
    assert!(cli.command.is_none());
    assert_eq!(cli.serve.config(), AppConfig::default());
}

#[test]
fn publish_without_flags_is_the_default_publish_config() {
    let cli = Cli::try_parse_from(["aggregator", "publish"]).unwrap();
    let Some(Command::Publish(args)) = cli.command else {
        panic!("expected publish");
    };
    assert_eq!(args.config(), PublishConfig::default());
}

#[test]
fn flags_without_a_subcommand_configure_serve() {
    let cli =
        Cli::try_parse_from(["aggregator", "--shards", "8", "--bind", "0.0.0.0:9000"]).unwrap();
    assert!(cli.command.is_none());
    let config = cli.serve.config();
    assert_eq!(config.tree.shards, 8);
    assert_eq!(config.bind.port(), 9000);
}

#[test]
fn chaos_is_off_by_default_and_probabilities_are_checked() {
    let cli = Cli::try_parse_from(["aggregator", "serve"]).unwrap();
    let Some(Command::Serve(serve)) = cli.command else {
        panic!("expected serve");
    };
    assert!(!serve.config().tree.chaos.is_enabled());
    assert!(Cli::try_parse_from(["aggregator", "--chaos-panic-rate", "1.5"]).is_err());
    let chaotic = Cli::try_parse_from(["aggregator", "--chaos-panic-rate", "0.1"]).unwrap();
    assert!(chaotic.serve.config().tree.chaos.is_enabled());
}

#[test]
fn zero_shards_are_refused() {
    assert!(Cli::try_parse_from(["aggregator", "serve", "--shards", "0"]).is_err());
}

#[test]
fn publish_refuses_nonsense_values() {
    for bad in [
        ["--duplicate-ratio", "1"],
        ["--duplicate-ratio", "-0.1"],
        ["--batch-size", "0"],
        ["--concurrency", "0"],
        ["--rate", "0"],
        ["--retry-for", "nan"],
        ["--topics", "0"],
    ] {
        let args = ["aggregator", "publish", bad[0], bad[1]];
        assert!(Cli::try_parse_from(args).is_err(), "{bad:?}");
    }
}

#[test]
fn publish_durations_take_units_and_replay_requires_a_seed() {
    let cli = Cli::try_parse_from(["aggregator", "publish", "--retry-for", "2m"]).unwrap();
    let Some(Command::Publish(args)) = cli.command else {
        panic!("expected publish");
    };
    assert_eq!(args.config().retry_for, std::time::Duration::from_secs(120));
    assert!(Cli::try_parse_from(["aggregator", "publish", "--replay"]).is_err());
    assert!(Cli::try_parse_from(["aggregator", "publish", "--replay", "--seed", "7"]).is_ok());
}

#[test]
fn bench_ceiling_shares_the_workload_flags_with_its_own_defaults() {
    let cli = Cli::try_parse_from(["aggregator", "bench", "ceiling", "--topics", "3"]).unwrap();
    let Some(Command::Bench(BenchCommand::Ceiling(args))) = cli.command else {
        panic!("expected bench ceiling");
    };
    let config = args.config();
    assert_eq!(config.workload.topics, 3);
    assert_eq!(config.workload.events, 200_000);
    assert_eq!(config.workload.batch_size, 1_000);
}

#[test]
fn tls_needs_both_a_certificate_and_a_key() {
    assert!(Cli::try_parse_from(["aggregator", "--tls-cert", "cert.pem"]).is_err());
    assert!(Cli::try_parse_from(["aggregator", "--tls-key", "key.pem"]).is_err());
    let cli = Cli::try_parse_from([
        "aggregator",
        "--tls-cert",
        "cert.pem",
        "--tls-key",
        "key.pem",
    ])
    .unwrap();
    let files = cli.serve.config().tls.expect("tls is on");
    assert_eq!(files.cert, std::path::PathBuf::from("cert.pem"));
    assert_eq!(files.key, std::path::PathBuf::from("key.pem"));
}

#[test]
fn publish_takes_an_api_key_that_its_debug_output_hides() {
    let cli = Cli::try_parse_from(["aggregator", "publish", "--api-key", "agg_k3y"]).unwrap();
    let Some(Command::Publish(args)) = cli.command else {
        panic!("expected publish");
    };
    assert!(args.config().access.api_key.is_some());
    assert!(!format!("{args:?}").contains("agg_k3y"));
}

#[test]
fn serve_help_groups_settings_by_section_and_leaves_chaos_out() {
    let mut command = Cli::command();
    let serve = command
        .find_subcommand_mut("serve")
        .expect("a serve subcommand");
    let help = serve.render_help().to_string();
    for heading in [
        "Server:",
        "Store:",
        "Shards and batching:",
        "Limits:",
        "Retention:",
    ] {
        assert!(help.contains(heading), "{heading} missing from:\n{help}");
    }
    assert!(!help.contains("chaos"), "chaos flags in --help:\n{help}");
    let parsed = Cli::try_parse_from(["aggregator", "--chaos-panic-rate", "0.5"]);
    assert!(parsed.is_ok(), "hidden flags still work");
}

#[test]
fn durations_take_one_syntax_and_the_old_flags_still_work_as_deprecated() {
    let new = Cli::try_parse_from([
        "aggregator",
        "--batch-linger",
        "5ms",
        "--request-timeout",
        "2s",
        "--store-timeout",
        "1500ms",
        "--restart-window",
        "2m",
        "--shutdown-timeout",
        "10s",
    ])
    .unwrap();
    let old = Cli::try_parse_from([
        "aggregator",
        "--batch-linger-ms",
        "5",
        "--request-timeout-ms",
        "2000",
        "--store-timeout-ms",
        "1500",
        "--restart-window-secs",
        "120",
        "--shutdown-timeout-ms",
        "10000",
    ])
    .unwrap();
    assert_eq!(new.serve.config(), old.serve.config());
    let config = new.serve.config();
    assert_eq!(
        config.tree.batching.linger,
        std::time::Duration::from_millis(5)
    );
    assert_eq!(config.shutdown_timeout, std::time::Duration::from_secs(10));
    assert!(new.serve.deprecations().is_empty());
    let deprecated: Vec<&str> = old.serve.deprecations().iter().map(|d| d.new).collect();
    assert_eq!(deprecated.len(), 5, "{deprecated:?}");
    // Both given: the new flag wins.
    let both = Cli::try_parse_from([
        "aggregator",
        "--batch-linger",
        "7ms",
        "--batch-linger-ms",
        "1",
    ])
    .unwrap();
    assert_eq!(
        both.serve.config().tree.batching.linger,
        std::time::Duration::from_millis(7)
    );
}

mod config_file {
    //! The `--config` file under the flags: values, precedence, errors naming the line.

    use std::path::PathBuf;
    use std::time::Duration;

    use clap::CommandFactory;

    use super::super::config;
    use super::super::config_file::SETTINGS;
    use super::super::{parse_command_line, CommandLineError};
    use super::super::{Cli, Command};
    use crate::app::AppConfig;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    fn serve_config(args: &[&str]) -> AppConfig {
        let line = parse_command_line(args).unwrap();
        match line.cli.command {
            None => line.cli.serve.config(),
            Some(Command::Serve(serve)) => serve.config(),
            Some(other) => panic!("expected serve, got {other:?}"),
        }
    }

    fn refusal(args: &[&str]) -> String {
        match parse_command_line(args) {
            Err(CommandLineError::File(err)) => err.to_string(),
            Err(other) => panic!("expected a config file error, got {other}"),
            Ok(_) => panic!("expected {args:?} to be refused"),
        }
    }

    #[test]
    fn the_example_file_is_the_default_configuration() {
        let example = file(&config::example());
        let path = example.path().to_str().unwrap();
        assert_eq!(
            serve_config(&["aggregator", "--config", path]),
            AppConfig::default()
        );
        assert_eq!(
            serve_config(&["aggregator", "serve", "--config", path]),
            AppConfig::default()
        );
    }

    #[test]
    fn every_setting_of_serve_has_a_key_and_every_key_a_setting() {
        let command = Cli::command();
        let args: Vec<&str> = command
            .get_arguments()
            .filter(|arg| !arg.is_hide_set())
            .map(|arg| arg.get_id().as_str())
            .filter(|id| !["config", "help", "version"].contains(id))
            .collect();
        for id in &args {
            assert!(
                SETTINGS.iter().any(|setting| setting.arg == *id),
                "serve's --{id} has no key in the config file"
            );
        }
        for setting in SETTINGS {
            assert!(
                args.contains(&setting.arg),
                "{} sets no visible argument",
                setting.name()
            );
        }
    }

    #[test]
    fn the_file_sets_values_and_flags_override_it() {
        let settings = file(
            "[shards]\ncount = 2\nbatch_linger = \"5ms\"\n\
             [stream]\nmax_subscribers = 9\n\
             [retention]\ndefault = \"30d\"\n[retention.rules]\n\"debug.*\" = \"1d\"\n\
             [loki]\ntopic_labels = [\"app\"]\n\
             [auth]\nallow_unauthenticated = true\n\
             [tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n",
        );
        let path = settings.path().to_str().unwrap();
        let from_file = serve_config(&["aggregator", "--config", path]);
        assert_eq!(from_file.tree.shards, 2);
        assert_eq!(from_file.tree.batching.linger, Duration::from_millis(5));
        assert_eq!(from_file.limits.max_subscribers, 9);
        assert_eq!(from_file.loki.topic_labels, vec!["app".to_string()]);
        assert!(from_file.access.allow_unauthenticated);
        assert_eq!(
            from_file
                .tree
                .retention
                .policy
                .for_topic("debug.sql")
                .to_string(),
            "1day"
        );
        assert_eq!(
            from_file
                .tree
                .retention
                .policy
                .for_topic("orders")
                .to_string(),
            "30days"
        );
        assert_eq!(
            from_file.tls.map(|tls| tls.key),
            Some(PathBuf::from("k.pem"))
        );

        let overridden = serve_config(&[
            "aggregator",
            "--config",
            path,
            "--shards",
            "3",
            "--tls-cert",
            "other.pem",
        ]);
        assert_eq!(overridden.tree.shards, 3);
        assert_eq!(overridden.tree.batching.linger, Duration::from_millis(5));
        assert_eq!(
            overridden.tls.map(|tls| tls.cert),
            Some(PathBuf::from("other.pem"))
        );
    }

    #[test]
    fn a_deprecated_flag_beats_the_file_as_any_flag_does() {
        let settings = file("[shards]\nbatch_linger = \"5ms\"\n");
        let path = settings.path().to_str().unwrap();
        let config = serve_config(&["aggregator", "--config", path, "--batch-linger-ms", "7"]);
        assert_eq!(config.tree.batching.linger, Duration::from_millis(7));
    }

    #[test]
    fn config_check_takes_the_file_as_its_argument() {
        let settings = file("[shards]\ncount = 6\n");
        let path = settings.path().to_str().unwrap();
        let line = parse_command_line(["aggregator", "config", "check", path]).unwrap();
        assert!(line.file.is_some());
        let Some(Command::Config(config::ConfigCommand::Check(args))) = line.cli.command else {
            panic!("expected config check");
        };
        assert_eq!(args.serve.config().tree.shards, 6);
    }

    #[test]
    fn mistakes_name_the_file_the_line_the_key_and_what_is_allowed() {
        let cases = [
            (
                "[http]\nbind = \"127.0.0.1:0\"\n\n[limits]\nmax_body = 5\n",
                &[
                    ":5:",
                    "`limits.max_body` is not a setting",
                    "max_body_bytes",
                ][..],
            ),
            (
                "[shards]\ncount = 0\n",
                &[":2:", "`shards.count` = 0", "1..=1024"],
            ),
            (
                "[htp]\nbind = \"x\"\n",
                &[":1:", "`[htp]` is not a section", "[http]"],
            ),
            ("bind = \"x\"\n", &[":1:", "outside any section"]),
            (
                "[http]\nlog_format = \"yaml\"\n",
                &[":2:", "`http.log_format`", "text, json"],
            ),
            (
                "\n[shards]\nbatch_linger = \"2 fortnights\"\n",
                &[":3:", "`shards.batch_linger`", "not a duration"],
            ),
            (
                "[shards]\ncount = [1]\n",
                &[":2:", "`shards.count` must be a whole number, not array"],
            ),
            (
                "[tls]\ncert = \"c.pem\"\n",
                &[":2:", "both `cert` and `key`"],
            ),
            ("[shards\n", &[":1:", "not valid TOML"]),
            (
                "[retention.rules]\n\"debug.*\" = 1\n",
                &[":2:", "rule `debug.*` must be a duration string"],
            ),
        ];
        for (text, expected) in cases {
            let settings = file(text);
            let path = settings.path().to_str().unwrap();
            let message = refusal(&["aggregator", "--config", path]);
            assert!(message.starts_with(path), "{message}");
            for part in expected {
                assert!(message.contains(part), "{part:?} missing from {message:?}");
            }
        }
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let message = refusal(&["aggregator", "--config", "/nonexistent/aggregator.toml"]);
        assert!(
            message.contains("/nonexistent/aggregator.toml"),
            "{message}"
        );
    }
}
