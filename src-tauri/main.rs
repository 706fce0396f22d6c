//! `parley`: the desktop app package.
//!
//! The Tauri window is not built yet (docs/architecture.md). Until it is, `parley`
//! is the headless peer: with no arguments it runs the demo call between two local
//! peers through a local signaling server; with arguments it behaves exactly like
//! `parley-cli` (see `parley --help`).

use clap::Parser;

fn main() {
    std::process::exit(parley_cli::main_entry(parley_cli::Cli::parse()));
}
