//! The `aggregator` binary: parse the command line and run what it asks for (see `cli`).

use aggregator::cli;

/// mimalloc instead of the system allocator: requests allocate many small, short-lived buffers,
/// and glibc's malloc/free took about 15% of the server's CPU in profiles (see DESIGN.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let line = cli::parse_command_line(std::env::args_os()).unwrap_or_else(|err| err.exit());
    cli::run(line).await
}
