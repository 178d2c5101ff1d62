//! Leaving nothing behind: dropping [`HaCluster`], also when a test fails, stops every keeper
//! and PostgreSQL it started (by process id, never by name), releases the shared memory a
//! killed postmaster leaves, and removes the cluster's directory.

use std::process::Stdio;
use std::time::{Duration, Instant};

use super::formation::HaCluster;
use super::process::{postmaster_pid, signal, signal_group};
use super::timings::STOP_TIMEOUT;

impl Drop for HaCluster {
    /// Stops every keeper started (SIGTERM: each stops its PostgreSQL, fast mode), data nodes
    /// first; past [`STOP_TIMEOUT`], `kill -9` of their process groups and of any postmaster
    /// still running in the cluster's directories. The directory is removed unless
    /// `FAILOVER_KEEP_DIR` is set.
    fn drop(&mut self) {
        let deadline = Instant::now() + STOP_TIMEOUT;
        for services in [&mut self.nodes[..], std::slice::from_mut(&mut self.monitor)] {
            for service in services.iter() {
                if let Some(keeper) = &service.keeper {
                    signal(keeper.id(), "TERM");
                }
            }
            for service in services.iter_mut() {
                if let Some(mut keeper) = service.keeper.take() {
                    loop {
                        match keeper.try_wait() {
                            Ok(Some(_)) | Err(_) => break,
                            Ok(None) if Instant::now() >= deadline => {
                                signal_group(&keeper, "KILL");
                                let _ = keeper.wait();
                                break;
                            }
                            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                        }
                    }
                }
            }
        }
        for service in self.nodes.iter().chain(std::iter::once(&self.monitor)) {
            if let Some(pid) = postmaster_pid(&service.pgdata) {
                signal(pid, "KILL");
            }
            release_shared_memory(&service.pgdata);
        }
        if let Some(dir) = self.dir.take() {
            if std::env::var_os("FAILOVER_KEEP_DIR").is_some() {
                eprintln!("HA cluster files kept in {}", dir.keep().display());
            }
        }
    }
}

/// The System V shared memory segment a postmaster killed with `kill -9` leaves behind (its key
/// and id are on line 7 of `postmaster.pid`), removed if nothing is attached to it any more.
fn release_shared_memory(pgdata: &std::path::Path) {
    let Ok(content) = std::fs::read_to_string(pgdata.join("postmaster.pid")) else {
        return;
    };
    let Some(line) = content.lines().nth(6) else {
        return;
    };
    let mut fields = line.split_whitespace();
    let (Some(Ok(key)), Some(id)) = (fields.next().map(str::parse::<u64>), fields.next()) else {
        return;
    };
    let Ok(output) = std::process::Command::new("ipcs").arg("-m").output() else {
        return;
    };
    // key (hex) shmid owner perms bytes nattch status
    let listed = String::from_utf8_lossy(&output.stdout).lines().any(|row| {
        let columns: Vec<&str> = row.split_whitespace().collect();
        columns.len() >= 6
            && u64::from_str_radix(columns[0].trim_start_matches("0x"), 16) == Ok(key)
            && columns[1] == id
            && columns[5] == "0"
    });
    if listed {
        let _ = std::process::Command::new("ipcrm")
            .args(["-m", id])
            .stderr(Stdio::null())
            .status();
    }
}
