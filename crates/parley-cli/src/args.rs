//! Command-line arguments.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Parley headless peer: call, answer, chat and send files from a terminal.
#[derive(Debug, Parser)]
#[command(name = "parley-cli", version, about)]
pub struct Cli {
    /// Profile folder (identity key, contacts, chat history). Default: the platform's
    /// data folder, e.g. ~/.local/share/parley.
    #[arg(long, global = true, env = "PARLEY_PROFILE")]
    pub profile: Option<PathBuf>,
    /// Signaling server URL, e.g. ws://127.0.0.1:8443/ws (the default). `auto`:
    /// no server; `call` and `answer` run one here (--listen), announce it on the
    /// local network and find the callee there (mDNS / DNS-SD; see `nearby`).
    #[arg(long, global = true, env = "PARLEY_SERVER")]
    pub server: Option<String>,
    /// Extra CA certificate(s), PEM, trusted for a wss:// server besides the
    /// system's (a self-hosted server's own CA, or a test CA).
    #[arg(long, global = true, value_name = "FILE", env = "PARLEY_SERVER_CA")]
    pub server_ca: Option<PathBuf>,
    /// What to do (default: demo).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print this profile's id (creating the profile if new); the id is the last line.
    Id,
    /// Manage contacts.
    Contact {
        /// What to do with contacts.
        #[command(subcommand)]
        action: ContactAction,
    },
    /// Call a peer id; hang up after --duration seconds or, if later, once the
    /// call has connected and our own sends (chat, files) are done. More ids make a group call: they are
    /// invited once the first has answered (as with --invite).
    Call {
        /// The callee's id. Ids are base64url and may start with '-'.
        #[arg(allow_hyphen_values = true)]
        id: String,
        /// More members' ids, invited once the callee has answered (an id that
        /// starts with '-' goes with --invite instead).
        more: Vec<String>,
        /// Seconds to stay in the call.
        #[arg(long, default_value_t = 5.0)]
        duration: f64,
        /// Media, chat and file options.
        #[command(flatten)]
        opts: CallArgs,
    },
    /// Wait for one call, accept it, and end when the caller hangs up. A contact's
    /// data session (chat and files outside a call) is taken the same way; one
    /// from anyone else is declined.
    Answer {
        /// Give up if no call arrives within this many seconds.
        #[arg(long, default_value_t = 120.0)]
        timeout: f64,
        /// Media, chat and file options.
        #[command(flatten)]
        opts: CallArgs,
    },
    /// Run a demo call between two local headless peers through a local server.
    Demo {
        /// Seconds the demo call lasts.
        #[arg(long, default_value_t = 8.0)]
        duration: f64,
        /// Folder for the demo's profiles and recordings (default: a temporary folder).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// List the Parleys announcing themselves on the local network (mDNS /
    /// DNS-SD), one line each: `nearby <id> <contact|stranger> <server url>
    /// <name>` (the name last, possibly empty or with spaces).
    Nearby {
        /// Seconds to listen before printing.
        #[arg(long, default_value_t = 3.0)]
        timeout: f64,
        /// Meanwhile print each change as it happens: `appeared <id> <ms> <name>`
        /// and `vanished <id> <ms>` (ms since listening began).
        #[arg(long)]
        watch: bool,
        /// Accepted for symmetry with `call`/`answer`: `nearby` only listens (it
        /// runs no server to announce).
        #[arg(long)]
        no_announce: bool,
    },
    /// Send files or folders to a contact through the app's engine: they are
    /// queued in the profile and go on by themselves when the connection drops
    /// or either side is restarted (the receiver resumes from what it holds).
    /// Folders arrive as folders (their files and empty folders, named by
    /// their path inside; symlinks are not followed). Without paths: finish
    /// what is queued from an earlier run. Prints `sent <bytes> <name>`,
    /// `already there <bytes> <name>` (the receiver held it: nothing sent) or
    /// `failed <name>: <reason>` per file; ends when
    /// nothing is queued for the contact (exit 1 if a file did not arrive) or
    /// after --timeout seconds (exit 1; the rest stays queued).
    Send {
        /// The contact's id (may start with '-').
        #[arg(allow_hyphen_values = true)]
        id: String,
        /// Files or folders to add to the queue.
        paths: Vec<PathBuf>,
        /// Give up waiting after this many seconds.
        #[arg(long, default_value_t = 600.0)]
        timeout: f64,
        /// Network: bind address, ICE servers, relay-only.
        #[command(flatten)]
        net: NetArgs,
    },
    /// Receive files from contacts into a folder, through the app's engine:
    /// accepted without asking (or see --ask), resumed where a partial file
    /// was kept. Prints
    /// `received <bytes> <path>`, `already there <bytes> <path>` or
    /// `failed <name>: <reason>` per file (or empty folder); ends
    /// after --count files arrived (once their senders have gone, at most 10 s
    /// later) or --timeout seconds.
    Receive {
        /// Where received files are saved.
        #[arg(long)]
        receive_dir: PathBuf,
        /// End once this many files arrived.
        #[arg(long)]
        count: Option<usize>,
        /// Put each offer to the user, as the app does, and answer it `yes`
        /// or `no`: a dropped folder is asked about once, printing
        /// `asked folder <name> <files> <bytes>`, a file on its own prints
        /// `asked file <name> <bytes>`.
        #[arg(long, value_parser = ["yes", "no"])]
        ask: Option<String>,
        /// End after this many seconds.
        #[arg(long, default_value_t = 600.0)]
        timeout: f64,
        /// Network: bind address, ICE servers, relay-only.
        #[command(flatten)]
        net: NetArgs,
    },
    /// List cameras, audio devices and shareable screens and windows.
    Devices,
    /// Check whether calls can connect from this network, and through what: the
    /// server, the public address and NAT type (STUN), a TURN allocation over each
    /// transport. Exits 1 when no call could connect across the internet.
    Doctor {
        /// Print the report as one JSON line.
        #[arg(long)]
        json: bool,
        /// The ICE servers to check instead of the server's.
        #[command(flatten)]
        net: NetArgs,
    },
}

/// Contact subcommands.
#[derive(Debug, Subcommand)]
pub enum ContactAction {
    /// Add (or rename) a contact.
    Add {
        /// The contact's id (may start with '-').
        #[arg(allow_hyphen_values = true)]
        id: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
    },
    /// Remove a contact.
    Remove {
        /// The contact's id (may start with '-').
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
    /// List contacts, one per line: id and name.
    List,
}

/// Options shared by `call` and `answer`.
#[derive(Debug, Args, Clone, Default)]
pub struct CallArgs {
    /// Send this Y4M file (looped) as the camera.
    #[arg(long, group = "video")]
    pub video_file: Option<PathBuf>,
    /// Send a test pattern, WxH@FPS (e.g. 640x360@15).
    #[arg(long, group = "video")]
    pub test_pattern: Option<String>,
    /// Send camera number N.
    #[arg(long, group = "video")]
    pub camera: Option<u32>,
    /// Send no video.
    #[arg(long, group = "video")]
    pub no_video: bool,
    /// Send this WAV file (looped) as the microphone.
    #[arg(long, group = "audio")]
    pub audio_file: Option<PathBuf>,
    /// Send this microphone: its number in `parley-cli devices`, or its id or
    /// name. Gone mid-call, the default microphone stands in until it is back.
    #[arg(long, group = "audio")]
    pub mic: Option<String>,
    /// Send a 440 Hz tone.
    #[arg(long, group = "audio")]
    pub tone: bool,
    /// Send no audio.
    #[arg(long, group = "audio")]
    pub no_audio: bool,
    /// Turn off Opus in-band FEC: neither sent nor used to recover a lost
    /// packet (loss is then only concealed).
    #[arg(long)]
    pub no_fec: bool,
    /// Turn off Opus DTX (tiny packets while we are silent).
    #[arg(long)]
    pub no_dtx: bool,
    /// Turn off echo cancellation (WebRTC AEC3) on the microphone.
    #[arg(long)]
    pub no_echo_cancellation: bool,
    /// Turn off noise suppression on the microphone.
    #[arg(long)]
    pub no_noise_suppression: bool,
    /// Turn off automatic gain control on the microphone.
    #[arg(long)]
    pub no_gain_control: bool,
    /// Record the remote video to this Y4M file (not written if no video arrives).
    /// With `{peer}` in it, or naming a folder (ending in `/`), every member of a
    /// group call is recorded to its own file: `{peer}` replaced by the member's
    /// id, or `FOLDER/<id>.y4m`.
    #[arg(long)]
    pub record_video: Option<PathBuf>,
    /// Record the remote audio to this WAV file (48 kHz mono); per member as
    /// --record-video (`{peer}` or a folder).
    #[arg(long)]
    pub record_audio: Option<PathBuf>,
    /// Play the remote audio on the default (or --speaker N) output device.
    #[arg(long)]
    pub play_audio: bool,
    /// Output device for --play-audio: its number in `parley-cli devices`, or
    /// its id or name (default: the default output, followed as it changes).
    #[arg(long)]
    pub speaker: Option<String>,
    /// Offer this file to the peer (repeatable).
    #[arg(long)]
    pub send_file: Vec<PathBuf>,
    /// Offer the file at PATH under the name NAME (repeatable; after --send-file ones).
    #[arg(long, num_args = 2, value_names = ["NAME", "PATH"])]
    pub send_file_as: Vec<String>,
    /// Accept offered files into this folder (without it they are declined).
    #[arg(long)]
    pub receive_dir: Option<PathBuf>,
    /// Send this chat message (repeatable, in order).
    #[arg(long)]
    pub chat: Vec<String>,
    /// Print one JSON line of call statistics at the end.
    #[arg(long)]
    pub stats: bool,
    /// Glass-to-glass latency probe, for two peers on one machine: draw each
    /// sent frame's capture time into its top-left corner, and read it from
    /// each decoded remote frame; the --stats line then carries
    /// `glass_to_glass_ms` {median, p95, n}: capture → frame handed to the sink.
    #[arg(long)]
    pub clock_stamp: bool,
    /// Print the call's live statistics every second as `live {JSON}`
    /// (frames decoded per second, bits/s received, RTT; `atMs` since the
    /// command started), and `receiving: NAME from byte N` when a file
    /// starts to arrive.
    #[arg(long)]
    pub live_stats: bool,
    /// Offer the --send-file files this many seconds after the call is
    /// accepted rather than at once (the call then lasts until they arrived).
    #[arg(long)]
    pub send_file_after: Option<f64>,
    /// Network: bind address, ICE servers, relay-only.
    #[command(flatten)]
    pub net: NetArgs,
    /// With `call`: wait up to this many seconds for the callee (and those to
    /// invite) to come online.
    #[arg(long, default_value_t = 10.0)]
    pub wait_online: f64,
    /// Camera bitrate ceiling, kbit/s (default: by the camera's size, 800 kbit/s
    /// up to 640x480 at 30 frames/s, about 1,940 at 1280x720, at most 2,500).
    #[arg(long)]
    pub video_kbps: Option<u32>,
    /// Share a screen once connected: a monitor index or name (default: the
    /// primary monitor) or `window:TITLE` (first window whose title contains TITLE).
    #[arg(long, value_name = "MONITOR|window:TITLE", num_args = 0..=1, default_missing_value = "")]
    pub share_screen: Option<String>,
    /// With --share-screen: start sharing this many seconds after connecting.
    #[arg(long, default_value_t = 0.0, requires = "share_screen")]
    pub share_at: f64,
    /// With --share-screen: stop sharing this many seconds after it started (the
    /// call goes on).
    #[arg(long, requires = "share_screen")]
    pub share_for: Option<f64>,
    /// Screen-share bitrate, kbit/s.
    #[arg(long)]
    pub screen_kbps: Option<u32>,
    /// Record the peer's shared screen (the screen track) to this Y4M file.
    #[arg(long)]
    pub record_screen: Option<PathBuf>,
    /// End the call when the connection, once lost, has not come back after
    /// this many seconds (ICE restarts are tried meanwhile).
    #[arg(long, default_value_t = parley_engine::call::DEFAULT_LOST_AFTER_MS as f64 / 1000.0)]
    pub lost_after: f64,
    /// Invite this contact into the call once it is accepted (repeatable): the
    /// call becomes a group call (docs/protocol.md §6.4).
    #[arg(long, value_name = "ID", allow_hyphen_values = true)]
    pub invite: Vec<String>,
    /// Seconds after the call is accepted to send the --invite invitations.
    #[arg(long, default_value_t = 1.0)]
    pub invite_at: f64,
    /// Hang up this many seconds after the call is accepted (`answer`; `call`
    /// has its duration). A group call goes on for the others.
    #[arg(long, alias = "leave-at")]
    pub leave_after: Option<f64>,
    /// With `--server auto`: the embedded server and the announcement.
    #[command(flatten)]
    pub nearby: NearbyArgs,
}

/// Options of `--server auto` (no server configured) for `call` and `answer`.
#[derive(Debug, Clone, Default, Args)]
pub struct NearbyArgs {
    /// With `--server auto`: where this machine's signaling server listens
    /// (default 0.0.0.0:0: every IPv4 interface, a free port); its port is
    /// announced.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// With `--server auto`: do not announce ourselves on the local network
    /// (`call` still finds the callee; an `answer` can then only be reached by
    /// whoever knows our server's address).
    #[arg(long)]
    pub no_announce: bool,
}

/// Network options of calls and the doctor.
#[derive(Debug, Clone, Default, Args)]
pub struct NetArgs {
    /// Local UDP address for media (default 0.0.0.0:0: every interface).
    #[arg(long)]
    pub bind: Option<SocketAddr>,
    /// STUN/TURN server URL (repeatable), e.g. stun:host:3478, turn:host:3478,
    /// turn:host:3478?transport=tcp or turns:host:5349.
    #[arg(long)]
    pub ice_server: Vec<String>,
    /// TURN username for the --ice-server URLs.
    #[arg(long)]
    pub ice_username: Option<String>,
    /// TURN credential for the --ice-server URLs.
    #[arg(long)]
    pub ice_credential: Option<String>,
    /// Use only TURN relay candidates.
    #[arg(long)]
    pub relay_only: bool,
    /// Turn off send-side congestion control (GCC over TWCC feedback, which
    /// the video encoder otherwise follows): send at the configured bitrates.
    #[arg(long)]
    pub no_congestion_control: bool,
    /// Turn off video retransmission on NACK (RFC 4585): neither ask for
    /// lost packets nor resend them. To measure what it brings.
    #[arg(long)]
    pub no_nack: bool,
    /// PEM file of extra CA certificates to trust for TURN over TLS (turns:),
    /// besides the system's.
    #[arg(long, env = "PARLEY_TURN_CA")]
    pub turn_ca: Option<std::path::PathBuf>,
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::{Cli, Command, ContactAction};

    /// Ids are base64url and 1 in 64 begins with '-': such an id is an argument,
    /// not an option, wherever an id is expected.
    #[test]
    fn ids_that_begin_with_a_dash_are_arguments() {
        let id = "-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcd";
        let cli = Cli::try_parse_from(["parley-cli", "contact", "add", id, "--name", "X"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Contact { action: ContactAction::Add { id: ref got, .. } }) if got == id
        ));
        let cli = Cli::try_parse_from(["parley-cli", "contact", "remove", id]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Contact { action: ContactAction::Remove { id: ref got } }) if got == id
        ));
        let cli = Cli::try_parse_from(["parley-cli", "call", id, "--duration", "1"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Call { id: ref got, ref more, duration, .. })
                if got == id && more.is_empty() && duration == 1.0
        ));
        // Several members: the options after them are still options.
        let cli = Cli::try_parse_from([
            "parley-cli",
            "call",
            id,
            "Abc",
            "Def",
            "--duration",
            "2",
            "--stats",
        ])
        .unwrap();
        let Some(Command::Call {
            id: got,
            more,
            duration,
            opts,
        }) = cli.command
        else {
            panic!("not a call");
        };
        assert_eq!(
            (got.as_str(), more),
            (id, vec!["Abc".to_owned(), "Def".to_owned()])
        );
        assert_eq!(duration, 2.0);
        assert!(opts.stats);
    }

    #[test]
    fn nearby_options() {
        let cli = Cli::try_parse_from(["parley-cli", "nearby"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Nearby { timeout, no_announce: false, watch: false }) if timeout == 3.0
        ));
        let cli = Cli::try_parse_from(["parley-cli", "nearby", "--watch"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Nearby { watch: true, .. })
        ));
        let cli = Cli::try_parse_from([
            "parley-cli",
            "--server",
            "auto",
            "answer",
            "--no-announce",
            "--listen",
            "0.0.0.0:0",
        ])
        .unwrap();
        assert_eq!(cli.server.as_deref(), Some("auto"));
        let Some(Command::Answer { opts, .. }) = cli.command else {
            panic!("not an answer");
        };
        assert!(opts.nearby.no_announce);
        assert_eq!(opts.nearby.listen, Some("0.0.0.0:0".parse().unwrap()));
    }
}
