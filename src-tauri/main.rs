//! Parley desktop app: the Tauri 2 shell over `parley-engine`.
//!
//! Everything that is not window glue lives in the Tauri-free crates; the commands in
//! `commands/` are a few lines each over [`parley_engine::client::Client`]. The UI
//! contract is docs/ui-api.md.
//!
//! Environment (for tests, demos and machines without devices): `PARLEY_PROFILE`
//! (profile folder), `PARLEY_SERVER` (signaling URL, overrides the settings),
//! `PARLEY_EMBEDDED_LISTEN` (embedded server address), `PARLEY_DOWNLOAD_DIR`
//! (received files, unless the settings name a folder), `PARLEY_VIDEO_FILE` /
//! `PARLEY_AUDIO_FILE` (file-backed camera / microphone), `PARLEY_SERVER_CA` (a PEM
//! CA trusted for a `wss://` server besides the system's), `PARLEY_UDP_BIND` (the
//! `IP:PORT` calls bind their UDP sockets to; default every interface),
//! `PARLEY_NEARBY=off` (no mDNS discovery: no Nearby list, nothing announced).

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod batches;
mod commands;
mod error;
mod links;
mod media;
mod nearby;
mod runner;
mod settings;
mod state;
mod transfers;
mod video_out;

use std::path::PathBuf;
use std::sync::Arc;

use parley_engine::storage::Profile;
use tauri::Manager;
use tauri_plugin_deep_link::DeepLinkExt;

use crate::settings::Settings;
use crate::state::{AppState, Inner};

/// mimalloc, not glibc's malloc: a tenth less CPU for a data channel
/// (BENCHMARKS.md, "File transfer: what bounds it").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `PARLEY_PROFILE`, when set: the profile folder instead of the platform's.
fn profile_override() -> Option<PathBuf> {
    std::env::var_os("PARLEY_PROFILE").map(PathBuf::from)
}

fn setup(app: &mut tauri::App) -> Result<(), Box<dyn std::error::Error>> {
    let profile_dir = match profile_override() {
        Some(p) => p,
        None => app.path().app_data_dir()?.join("profile"),
    };
    let profile = Arc::new(Profile::open(&profile_dir)?);
    let settings = Settings::load(&profile);
    // The transfers of earlier sessions, as the history kept them, and the
    // files still queued to send (waiting for their contact).
    let mut history: std::collections::BTreeMap<_, _> = profile
        .transfer_history(transfers::HISTORY_LOADED)
        .unwrap_or_else(|e| {
            tracing::warn!("transfer history: {e}");
            Vec::new()
        })
        .into_iter()
        .map(|r| (r.transfer_id.clone(), transfers::from_record(r)))
        .collect();
    let queued = profile.outbox(None).unwrap_or_else(|e| {
        tracing::warn!("queue of files to send: {e}");
        Vec::new()
    });
    for e in queued.iter().filter(|e| e.batch.is_none()) {
        history.insert(e.transfer_id.clone(), transfers::from_queued(e));
    }
    // A folder still queued is one transfer.
    let mut batches = batches::Batches::default();
    for v in batches.add_queued(&queued) {
        history.insert(v.transfer_id.clone(), v);
    }
    // A folder we were receiving goes on counting what arrived before.
    match profile.folder_files_received() {
        Ok(files) => batches.add_received(&files),
        Err(e) => tracing::warn!("received folder files: {e}"),
    }
    let default_download_dir = match std::env::var_os("PARLEY_DOWNLOAD_DIR") {
        Some(d) => PathBuf::from(d),
        None => app
            .path()
            .download_dir()
            .unwrap_or_else(|_| profile_dir.join("downloads")),
    };
    app.manage(AppState {
        profile,
        default_download_dir,
        remote_video: Default::default(),
        local_video: Default::default(),
        remote_screen: Default::default(),
        media_settings: std::sync::Arc::new(std::sync::RwLock::new(settings.clone())),
        inner: tokio::sync::Mutex::new(Inner {
            settings,
            transfers: history,
            batches,
            ..Default::default()
        }),
    });
    app.manage(links::PendingInvite::default());
    // Invite links: from a later start (forwarded by single-instance) and from
    // the command line of this one.
    let handle = app.handle().clone();
    app.deep_link().on_open_url(move |event| {
        for url in event.urls() {
            links::open(&handle, url.as_str());
        }
    });
    if let Ok(Some(urls)) = app.deep_link().get_current() {
        for url in urls {
            links::open(app.handle(), url.as_str());
        }
    }
    tauri::async_runtime::spawn(runner::restart_client(app.handle().clone()));
    Ok(())
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("error,parley=info,parley_engine=warn")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Some(ca) = std::env::var_os("PARLEY_SERVER_CA") {
        match parley_engine::rtc::load_pem_certificates(std::path::Path::new(&ca)) {
            Ok(ders) => parley_engine::signaling::trust_extra_ca(ders),
            Err(e) => tracing::error!("PARLEY_SERVER_CA: {e}"),
        }
    }
    let context = tauri::generate_context!();
    let instance = links::instance_id(&context.config().identifier, profile_override().as_deref());
    let result = tauri::Builder::default()
        // First: a second start with the same profile hands its arguments (an
        // invite link) to this one and exits.
        .plugin(
            tauri_plugin_single_instance::Builder::new()
                .dbus_id(instance)
                .callback(|app, _argv, _cwd| links::focus(app))
                .build(),
        )
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_notification::init())
        .setup(setup)
        .invoke_handler(tauri::generate_handler![
            commands::profile::get_state,
            commands::profile::setup_profile,
            commands::profile::update_settings,
            commands::profile::list_devices,
            commands::profile::copy_invite_link,
            commands::profile::set_nearby_visible,
            commands::connection::check_connection,
            commands::contacts::add_contact,
            commands::contacts::rename_contact,
            commands::contacts::remove_contact,
            commands::contacts::set_contact_verified,
            commands::call::start_call,
            commands::call::accept_call,
            commands::call::decline_call,
            commands::call::hangup,
            commands::call::set_muted,
            commands::call::switch_device,
            commands::call::attach_video,
            commands::call::attach_member_video,
            commands::call::detach_member_video,
            commands::call::invite_to_call,
            commands::screen::list_screen_sources,
            commands::screen::start_screen_share,
            commands::screen::stop_screen_share,
            commands::chat::chat_history,
            commands::chat::send_chat,
            commands::files::send_files,
            commands::files::pick_and_send_files,
            commands::files::show_in_folder,
            commands::files::open_transfer,
            commands::files::accept_transfer,
            commands::files::decline_transfer,
            commands::files::cancel_transfer,
            commands::notify::show_notification,
            links::take_invite,
        ])
        .run(context);
    if let Err(e) = result {
        eprintln!("error: Parley could not start: {e}");
        std::process::exit(1);
    }
}
