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
