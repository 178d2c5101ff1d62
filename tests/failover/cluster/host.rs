//! What the machine must provide for a formation: a PostgreSQL version with the pgautofailover
//! extension (its `pg_ctl`), and the `postgres` user to run it as when the tests run as root.

use std::path::{Path, PathBuf};

use super::connection::SUPERUSER;

/// Where Debian keeps each PostgreSQL version's binaries.
const POSTGRES_LIB: &str = "/usr/lib/postgresql";

/// uid and gid of `postgres` when this process runs as root (PostgreSQL refuses root), `None`
/// otherwise (PostgreSQL then runs as the current user).
pub(super) fn postgres_identity() -> Option<(u32, u32)> {
    let id = |args: &[&str]| -> u32 {
        let output = std::process::Command::new("id")
            .args(args)
            .output()
            .expect("the id command runs");
        assert!(
            output.status.success(),
            "id {args:?} failed: is there a postgres user?"
        );
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .expect("a numeric id")
    };
    (id(&["-u"]) == 0).then(|| (id(&["-u", SUPERUSER]), id(&["-g", SUPERUSER])))
}

/// `pg_ctl` of the newest PostgreSQL version that has the pgautofailover extension installed
/// (`FAILOVER_PG_CTL` overrides).
pub(super) fn find_pg_ctl() -> PathBuf {
    if let Some(path) = std::env::var_os("FAILOVER_PG_CTL") {
        return path.into();
    }
    let mut versions: Vec<u32> = std::fs::read_dir(POSTGRES_LIB)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .filter(|version| {
            Path::new(&format!(
                "/usr/share/postgresql/{version}/extension/pgautofailover.control"
            ))
            .exists()
        })
        .collect();
    versions.sort_unstable();
    let version = versions.last().unwrap_or_else(|| {
        panic!(
            "no PostgreSQL with pg_auto_failover under {POSTGRES_LIB} (install \
             postgresql-<version>-auto-failover and pg-auto-failover-cli, or set FAILOVER_PG_CTL)"
        )
    });
    Path::new(POSTGRES_LIB).join(format!("{version}/bin/pg_ctl"))
}
