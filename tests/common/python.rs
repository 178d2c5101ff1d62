//! Real Python clients run by the tests (`tests/otlp`, `tests/loki`): the interpreter of a venv
//! that `scripts/test.sh` makes under `target/`, and the numbered records their scripts log.
//!
//! Without the interpreter a test is skipped (it says `skipped: …`), except under CI (`CI`
//! set), where that is a failure: CI runs `scripts/test.sh`, which installs it.

use std::path::{Path, PathBuf};

/// The Python interpreter of the venv `target/<venv>` (or the one `$<override_var>` names),
/// which holds `packages`; or `None` (after printing `skipped: …`) when it is missing outside
/// CI; fails under CI.
pub fn venv_python(venv: &str, override_var: &str, packages: &str) -> Option<PathBuf> {
    let path = std::env::var_os(override_var).map_or_else(
        || {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target")
                .join(venv)
                .join("bin/python")
        },
        PathBuf::from,
    );
    if path.exists() {
        return Some(path);
    }
    let why = format!(
        "no Python with {packages} at {} (scripts/test.sh creates the venv target/{venv}; or \
         set {override_var})",
        path.display()
    );
    assert!(std::env::var_os("CI").is_none(), "{why}");
    eprintln!("skipped: {why}");
    None
}

/// The message of record `i` of `count`, exactly as the client scripts (`export_logs.py`,
/// `push_logs.py`) log it: numbered, so that no two records of a run are one event.
pub fn record_message(i: usize, count: usize, run_id: &str) -> String {
    format!(
        "order {i:05} paid, record {} of {count}, run {run_id}",
        i + 1
    )
}

/// Every message a client script logs for `count` records of run `run_id`, in order.
pub fn record_messages(count: usize, run_id: &str) -> Vec<String> {
    (0..count)
        .map(|i| record_message(i, count, run_id))
        .collect()
}
