#[path = "../common/mod.rs"]
mod common;
mod support;

mod chaos_in_process;
mod cluster_stats;
mod flood;
mod graceful_shutdown;
mod key_rotation;
mod live_tail;
mod multi_instance;
mod ordered_paging;
mod postgres_outage;
mod process_crash;
mod prune_crash;
mod tail_command;
mod tls_reload;
