//! `parley-cli`: see `parley-cli --help`.

use clap::Parser;

/// mimalloc, not glibc's malloc: a tenth less CPU for a data channel
/// (BENCHMARKS.md, "File transfer: what bounds it").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(parley_cli::main_entry(parley_cli::Cli::parse()));
}
