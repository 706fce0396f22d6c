//! `parley-cli`: see `parley-cli --help`.

use clap::Parser;

fn main() {
    std::process::exit(parley_cli::main_entry(parley_cli::Cli::parse()));
}
