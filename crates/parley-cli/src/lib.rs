//! The headless Parley peer: the tool tests, benchmarks and scripts drive.
//!
//! `parley-cli --help` lists the commands; README.md has examples. The binary is a
//! thin `main` over [`run`]; the desktop app package reuses [`run`] for its headless
//! demo mode until the window exists.

pub mod args;
mod demo;
mod doctor;
mod drive;
mod files;
mod latency;
mod media;
mod nearby;
mod screen_plan;
mod session;
mod shared_sink;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use parley_engine::storage::Profile;
use parley_proto::PeerId;

pub use args::Cli;
use args::{Command, ContactAction};

/// Log filter when `RUST_LOG` is unset: our warnings, the WebRTC stack's errors only.
const DEFAULT_LOG_FILTER: &str = "error,parley_engine=warn,parley_cli=warn,parley_signal=warn";

/// Default signaling server when none is given. `--server auto` instead runs one
/// here and finds people on the local network (`nearby.rs`).
pub const DEFAULT_SERVER: &str = "ws://127.0.0.1:8443/ws";

/// Runs one command line.
pub async fn run(cli: Cli) -> Result<()> {
    if let Some(ca) = &cli.server_ca {
        parley_engine::signaling::trust_extra_ca(
            parley_engine::rtc::load_pem_certificates(ca).context("--server-ca")?,
        );
    }
    let command = cli.command.unwrap_or(Command::Demo {
        duration: 8.0,
        dir: None,
    });
    match command {
        Command::Id => {
            let profile = open_profile(&cli.profile)?;
            println!("{}", profile.identity().id());
        }
        Command::Contact { action } => {
            let profile = open_profile(&cli.profile)?;
            match action {
                ContactAction::Add { id, name } => {
                    let id = parse_id(&id)?;
                    profile.add_contact(&id, name.as_deref())?;
                    println!("added {id}");
                }
                ContactAction::Remove { id } => {
                    let id = parse_id(&id)?;
                    if !profile.remove_contact(&id)? {
                        anyhow::bail!("{id} is not a contact");
                    }
                    println!("removed {id}");
                }
                ContactAction::List => {
                    for c in profile.contacts()? {
                        println!("{}\t{}", c.id, c.name.unwrap_or_default());
                    }
                }
            }
        }
        Command::Call {
            id,
            more,
            duration,
            mut opts,
        } => {
            let profile = Arc::new(open_profile(&cli.profile)?);
            let to = parse_id(&id)?;
            // The others are invited once the first has answered.
            opts.invite.splice(0..0, more);
            let server = cli.server.unwrap_or_else(|| DEFAULT_SERVER.to_owned());
            if nearby::is_auto(&server) {
                nearby::call(profile, to, duration, opts).await?;
            } else {
                session::call(profile, &server, to, duration, opts, false).await?;
            }
        }
        Command::Answer { timeout, opts } => {
            let profile = Arc::new(open_profile(&cli.profile)?);
            let server = cli.server.unwrap_or_else(|| DEFAULT_SERVER.to_owned());
            if nearby::is_auto(&server) {
                nearby::answer(profile, timeout, opts).await?;
            } else {
                session::answer(profile, &server, timeout, opts, false).await?;
            }
        }
        // `--no-announce` changes nothing here: listing announces nothing.
        Command::Nearby { timeout, watch, .. } => {
            let profile = open_profile(&cli.profile)?;
            nearby::list(&profile, timeout, watch).await?;
        }
        Command::Send {
            id,
            paths,
            timeout,
            net,
        } => {
            let profile = Arc::new(open_profile(&cli.profile)?);
            let server = cli.server.unwrap_or_else(|| DEFAULT_SERVER.to_owned());
            files::send(profile, &server, parse_id(&id)?, paths, timeout, &net).await?;
        }
        Command::Receive {
            receive_dir,
            count,
            ask,
            timeout,
            net,
        } => {
            let profile = Arc::new(open_profile(&cli.profile)?);
            let server = cli.server.unwrap_or_else(|| DEFAULT_SERVER.to_owned());
            let ask = ask.map(|a| a == "yes");
            files::receive(profile, &server, receive_dir, count, ask, timeout, &net).await?;
        }
        Command::Demo { duration, dir } => demo::run(duration, dir).await?,
        Command::Doctor { json, net } => {
            let profile = open_profile(&cli.profile)?;
            let server = cli.server.unwrap_or_else(|| DEFAULT_SERVER.to_owned());
            if nearby::is_auto(&server) {
                anyhow::bail!("the doctor needs a server URL (--server auto: call and answer)");
            }
            doctor::run(&profile, &server, &net, json).await?;
        }
        Command::Devices => {
            for c in parley_engine::media::list_cameras() {
                println!("camera {}: {}", c.index, c.name);
            }
            for d in parley_engine::media::list_input_devices() {
                println!("microphone {}: {} [{}]", d.index, d.name, d.id);
            }
            for d in parley_engine::media::list_output_devices() {
                println!("speaker {}: {} [{}]", d.index, d.name, d.id);
            }
            match parley_engine::media::screen::list_screen_sources() {
                Ok(sources) => {
                    for s in sources {
                        println!("screen {}: {} ({}x{})", s.id, s.name, s.width, s.height);
                    }
                }
                Err(e) => eprintln!("screens: {e}"),
            }
        }
    }
    Ok(())
}

pub(crate) fn parse_id(s: &str) -> Result<PeerId> {
    PeerId::parse(s.trim()).with_context(|| format!("{s:?} is not a Parley id"))
}

fn default_profile_dir() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("parley")
}

fn open_profile(dir: &Option<PathBuf>) -> Result<Profile> {
    let dir = dir.clone().unwrap_or_else(default_profile_dir);
    Profile::open(&dir).with_context(|| format!("profile {}", dir.display()))
}

/// Sets up logging and a tokio runtime, runs `cli`, prints any error as one line on
/// stderr and returns the exit code (0 only if everything went as asked).
pub fn main_entry(cli: Cli) -> i32 {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER)),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let result = rt.block_on(run(cli));
    // Capture threads may sit in a blocking read; do not wait for them.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}
