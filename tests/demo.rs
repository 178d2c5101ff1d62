//! `aggregator demo --exit` end to end: the real binary, the embedded store (no DATABASE_URL),
//! port 0. Needs the embedded store backend.

use std::process::Command;

#[test]
fn the_demo_publishes_a_verified_workload_on_the_embedded_store_and_exits_zero() {
    let output = Command::new(env!("CARGO_BIN_EXE_aggregator"))
        .args(["demo", "--exit", "--bind", "127.0.0.1:0"])
        .env_remove("DATABASE_URL")
        .env_remove("AGG_DEMO_BIND")
        .env_remove("AGG_DEMO_DATA_DIR")
        .env_remove("AGG_DEMO_EVENTS")
        .output()
        .unwrap();

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    assert!(stdout.contains("events sent       5000"), "{stdout}");
    assert!(stdout.contains("verified          yes"), "{stdout}");
    assert!(stdout.contains("sample events"), "{stdout}");
}
