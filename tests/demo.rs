//! `aggregator demo --exit` end to end: the real binary, the embedded store (no DATABASE_URL),
//! port 0. Needs the embedded store backend.

#[path = "common/mod.rs"]
mod common;

use common::process::aggregator_command;

#[test]
fn the_demo_publishes_a_verified_workload_on_the_embedded_store_and_exits_zero() {
    let output = aggregator_command()
        .args(["demo", "--exit", "--bind", "127.0.0.1:0"])
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
