//! The `--config` file with the real binary: `config check` shows each value and where it came
//! from (default, file, environment, flag) with secrets hidden, `serve` runs with the file under
//! its environment, and a wrong file stops it with the line and exit code 2. Embedded store
//! only (no PostgreSQL needed).

#[path = "common/mod.rs"]
mod common;

use std::process::{Output, Stdio};
use std::time::Duration;

use common::app::wait_for_ready_status;
use common::process::{aggregator_command, free_port};

fn run(command: &mut std::process::Command) -> (Output, String, String) {
    let output = command
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stdout, stderr)
}

/// The line of `config check`'s output that sets `key` (`key = value   # source`).
fn line_of<'a>(output: &'a str, key: &str) -> &'a str {
    output
        .lines()
        .find(|line| line.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no `{key} = ` line in:\n{output}"))
}

#[test]
fn config_check_prints_each_value_with_its_source_and_hides_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("aggregator.toml");
    std::fs::write(
        &file,
        "[shards]\ncount = 2\n\n[stream]\nmax_subscribers = 5\n\n[limits]\nmax_body_bytes = 1000\n",
    )
    .unwrap();
    let (output, stdout, stderr) = run(aggregator_command()
        .args(["config", "check", "--max-body-bytes", "2000"])
        .env("AGG_CONFIG", &file)
        .env("AGG_MAX_SUBSCRIBERS", "7")
        .env(
            "DATABASE_URL",
            "postgres://aggregator:s3cret-pw@127.0.0.1:1/aggregator",
        ));
    assert!(output.status.success(), "{stderr}\n{stdout}");
    assert!(stdout.contains(&file.display().to_string()), "{stdout}");
    let count = line_of(&stdout, "count");
    assert!(
        count.contains("= 2 ") && count.ends_with("# file, line 2"),
        "{count}"
    );
    let subscribers = line_of(&stdout, "max_subscribers");
    assert!(
        subscribers.contains("= 7 ") && subscribers.ends_with("# env AGG_MAX_SUBSCRIBERS"),
        "{subscribers}"
    );
    let body = line_of(&stdout, "max_body_bytes");
    assert!(
        body.contains("= 2000 ") && body.ends_with("# flag --max-body-bytes"),
        "{body}"
    );
    let pool = line_of(&stdout, "pool_size");
    assert!(
        pool.contains("= 8 ") && pool.ends_with("# default"),
        "{pool}"
    );
    let url = line_of(&stdout, "database_url");
    assert!(url.contains("aggregator:***@127.0.0.1:1"), "{url}");
    assert!(!stdout.contains("s3cret-pw") && !stderr.contains("s3cret-pw"));
}

#[test]
fn the_example_file_passes_config_check() {
    let (example, text, _) = run(aggregator_command().args(["config", "example"]));
    assert!(example.status.success());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("example.toml");
    std::fs::write(&file, &text).unwrap();
    let (output, stdout, stderr) = run(aggregator_command().arg("config").arg("check").arg(&file));
    assert!(output.status.success(), "{stderr}");
    // Every value the example sets is in force from the file, none from elsewhere.
    let settings: Vec<&str> = stdout
        .lines()
        .filter(|line| !line.starts_with('#') && line.contains(" = "))
        .collect();
    assert!(settings.len() >= 40, "{stdout}");
    for setting in settings {
        assert!(setting.contains("# file, line "), "{setting}");
    }
}

#[test]
fn a_wrong_file_stops_serve_with_its_line_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("aggregator.toml");
    std::fs::write(
        &file,
        "[http]\nbind = \"127.0.0.1:0\"\n\n[shards]\ncount = 0\n",
    )
    .unwrap();
    let (output, _, stderr) = run(aggregator_command()
        .arg("serve")
        .arg("--config")
        .arg(&file)
        .arg("--data-dir")
        .arg(dir.path().join("data")));
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let expected = format!(
        "{}:5: `shards.count` = 0: 0 is not in 1..=1024",
        file.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(!dir.path().join("data").exists(), "nothing opened");
}

#[test]
fn config_check_runs_the_checks_serve_runs_before_it_binds() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("aggregator.toml");
    std::fs::write(&file, "[http]\nbind = \"0.0.0.0:8080\"\n").unwrap();
    let (output, _, stderr) = run(aggregator_command().arg("config").arg("check").arg(&file));
    assert!(!output.status.success());
    assert!(
        stderr.contains("refusing to serve 0.0.0.0:8080"),
        "{stderr}"
    );
    std::fs::write(
        &file,
        "[http]\nbind = \"0.0.0.0:8080\"\n[auth]\nallow_unauthenticated = true\n",
    )
    .unwrap();
    let (output, _, stderr) = run(aggregator_command().arg("config").arg("check").arg(&file));
    assert!(output.status.success(), "{stderr}");
}

#[tokio::test]
async fn serve_runs_with_the_file_and_the_environment_over_it() {
    let dir = tempfile::tempdir().unwrap();
    let (file_port, env_port) = (free_port(), free_port());
    let data = dir.path().join("data");
    let file = dir.path().join("aggregator.toml");
    std::fs::write(
        &file,
        format!(
            "[http]\nbind = \"127.0.0.1:{file_port}\"\n\n[store]\ndata_dir = {data:?}\n\n\
             [retention]\ndefault = \"30d\"\n\n[retention.rules]\n\"debug.*\" = \"1d\"\n"
        ),
    )
    .unwrap();
    let mut command = tokio::process::Command::from(aggregator_command());
    command
        .env("AGG_CONFIG", &file)
        .env("AGG_BIND", format!("127.0.0.1:{env_port}"))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("the binary starts");
    let base_url = format!("http://127.0.0.1:{env_port}");
    assert!(
        wait_for_ready_status(&base_url, 200, Duration::from_secs(30)).await,
        "not ready on the environment's port"
    );
    assert!(
        data.exists(),
        "the embedded store is in the file's data_dir"
    );
    let file_port_refused = std::net::TcpStream::connect(("127.0.0.1", file_port)).is_err();
    assert!(file_port_refused, "the file's bind was overridden");
    let stats: serde_json::Value = reqwest::get(format!("{base_url}/stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let retention = &stats["retention"];
    assert_eq!(retention["default"], "30days", "{stats}");
    assert_eq!(retention["rules"][0]["topics"], "debug.*", "{stats}");
    assert_eq!(retention["rules"][0]["keep"], "1day", "{stats}");
    child.kill().await.unwrap();
}
