//! What the app holds between commands, and the `State` snapshot the UI renders.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use parley_engine::client::{CallInfo, Client, ConnectionInfo, ServerState, Via};
use parley_engine::nearby::NearbyPeer;
use parley_engine::storage::Profile;
use parley_proto::safety::safety_number;
use parley_proto::PeerId;
use serde::Serialize;
use tokio::sync::Mutex;

use crate::nearby::NearbyView;
use crate::settings::Settings;
use crate::transfers::TransferView;

/// Managed Tauri state.
pub struct AppState {
    /// The profile, open for the app's lifetime.
    pub profile: Arc<Profile>,
    /// Used when the settings name no download folder.
    pub default_download_dir: PathBuf,
    /// Decoded remote video, for whichever client runs.
    pub remote_video: parley_engine::client::FrameSlot,
    /// Local preview, for whichever client runs.
    pub local_video: parley_engine::client::FrameSlot,
    /// The peer's shared screen (app-owned, like the video slots).
    pub remote_screen: parley_engine::client::FrameSlot,
    /// The settings capture and playback read when a device is opened (kept equal
    /// to `inner.settings`; a plain lock, as the engine opens devices from sync code).
    pub media_settings: Arc<std::sync::RwLock<crate::settings::Settings>>,
    /// Everything that changes.
    pub inner: Mutex<Inner>,
}

/// The changing part of [`AppState`].
#[derive(Default)]
pub struct Inner {
    /// The running client (None before first start completes or while the server is
    /// unreachable).
    pub client: Option<Client>,
    /// Current settings.
    pub settings: Settings,
    /// Signaling connection as last reported.
    pub connection: Option<ConnectionInfo>,
    /// Contact presence as last reported.
    pub presence: HashMap<PeerId, bool>,
    /// The server each online contact is reached through, as last reported.
    pub reach: HashMap<PeerId, Via>,
    /// Parleys on the local network as last reported (empty while the client
    /// is down).
    pub nearby: Vec<NearbyPeer>,
    /// The current (or last) call.
    pub call: Option<CallInfo>,
    /// Transfers of this session, and the history of earlier ones, by id.
    pub transfers: BTreeMap<String, TransferView>,
    /// Dropped folders being sent or received, each shown as one transfer.
    pub batches: crate::batches::Batches,
    /// Video pumps of the attached UI channels.
    pub video_pumps: Vec<tauri::async_runtime::JoinHandle<()>>,
    /// Video pumps of the grid's tiles, by (member, track id).
    pub member_pumps: HashMap<(PeerId, String), tauri::async_runtime::JoinHandle<()>>,
}

/// `{ id, name }` of the user.
#[derive(Debug, Clone, Serialize)]
pub struct Me {
    /// Our peer id.
    pub id: PeerId,
    /// Our display name.
    pub name: String,
}

/// A contact with presence (docs/ui-api.md `Contact`).
#[derive(Debug, Clone, Serialize)]
pub struct ContactView {
    /// Peer id.
    pub id: PeerId,
    /// Display name (the id's start when unnamed).
    pub name: String,
    /// Online now.
    pub online: bool,
    /// Where they are while online: `"nearby"` when found on this network (and
    /// reached through their computer's built-in server, or ours), `"server"`
    /// otherwise; absent when offline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<&'static str>,
    /// The built-in "Echo test" contact (not stored; cannot be renamed or removed).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub echo: bool,
    /// Marked as verified by the user (safety number compared).
    pub verified: bool,
    /// The safety number of us and this contact (`parley_proto::safety`).
    #[serde(rename = "safetyNumber")]
    pub safety_number: String,
}

/// The echo contact's name in English (the UI shows its own translation).
pub const ECHO_NAME: &str = "Echo test";

/// docs/ui-api.md `Call`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallView {
    /// The engine's view of the call.
    #[serde(flatten)]
    pub info: CallInfo,
    /// The peer's display name.
    pub peer_name: String,
    /// The peer is in our contacts (an invite from a stranger says so).
    pub peer_is_contact: bool,
    /// The peer is a contact marked as verified.
    pub peer_verified: bool,
    /// The safety number of us and the peer (`parley_proto::safety`).
    pub safety_number: String,
    /// Our mute state.
    pub muted: Muted,
    /// The peer's mute state.
    pub remote_muted: Muted,
    /// Display names of the call's members, by peer id (a contact's name, or
    /// the id's start).
    pub member_names: HashMap<PeerId, String>,
}

/// `{ audio, video }` mute flags.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Muted {
    /// Microphone muted.
    pub audio: bool,
    /// Camera off.
    pub video: bool,
}

/// The snapshot the UI renders (docs/ui-api.md `State`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StateView {
    /// None until the first-start name is chosen.
    pub me: Option<Me>,
    /// The signaling connection.
    pub connection: ConnectionInfo,
    /// Contacts, alphabetically.
    pub contacts: Vec<ContactView>,
    /// Parleys found on the local network, by name then id.
    pub nearby: Vec<NearbyView>,
    /// The current call, if any.
    pub call: Option<CallView>,
    /// Settings.
    pub settings: Settings,
    /// Where received files go while `settings.downloadDir` is empty (the
    /// platform's download folder, or `PARLEY_DOWNLOAD_DIR`).
    pub default_download_dir: String,
    /// Transfers of this session and the history of earlier ones, oldest first.
    pub transfers: Vec<TransferView>,
}

/// [`ContactView::via`] of `id`.
fn contact_via(inner: &Inner, id: &PeerId) -> Option<&'static str> {
    let nearby = inner.nearby.iter().any(|p| p.id == *id);
    match inner.reach.get(id)? {
        Via::Nearby(_) => Some("nearby"),
        Via::Home if nearby => Some("nearby"),
        Via::Home => Some("server"),
    }
}

impl AppState {
    /// Contacts with their presence.
    pub fn contacts(&self, inner: &Inner) -> Vec<ContactView> {
        let me = self.profile.identity().id();
        let mut out: Vec<ContactView> = self
            .profile
            .contacts()
            .unwrap_or_default()
            .into_iter()
            .map(|c| ContactView {
                online: inner.presence.get(&c.id).copied().unwrap_or(false),
                via: contact_via(inner, &c.id),
                name: c
                    .name
                    .unwrap_or_else(|| c.id.as_str().chars().take(8).collect()),
                verified: c.verified_at_ms.is_some(),
                safety_number: safety_number(&me, &c.id),
                id: c.id,
                echo: false,
            })
            .collect();
        if let Some(id) = inner.client.as_ref().and_then(|c| c.echo_id()) {
            out.push(ContactView {
                online: inner.presence.get(id).copied().unwrap_or(false),
                via: None,
                name: ECHO_NAME.into(),
                verified: false,
                safety_number: safety_number(&me, id),
                id: id.clone(),
                echo: true,
            });
        }
        out.sort_by_key(|c| c.name.to_lowercase());
        out
    }

    /// The full snapshot.
    pub fn view(&self, inner: &Inner) -> StateView {
        let me = (!inner.settings.display_name.is_empty()).then(|| Me {
            id: self.profile.identity().id(),
            name: inner.settings.display_name.clone(),
        });
        let contacts = self.contacts(inner);
        StateView {
            me,
            connection: inner.connection.clone().unwrap_or(ConnectionInfo {
                state: ServerState::Connecting,
                url: inner.settings.server_url.clone().unwrap_or_default(),
                embedded: inner.settings.server_url.is_none(),
                error: None,
                retry_in_ms: None,
            }),
            nearby: crate::nearby::views(&inner.nearby, &contacts),
            contacts,
            call: inner.call.clone().map(|c| self.call_view(c)),
            settings: inner.settings.clone(),
            default_download_dir: self.default_download_dir.display().to_string(),
            transfers: {
                // In the order they began (the UI lists the newest first).
                let mut list: Vec<TransferView> = inner.transfers.values().cloned().collect();
                list.sort_by_key(|t| t.started_at_ms);
                list
            },
        }
    }

    /// A call as the UI shows it.
    pub fn call_view(&self, info: CallInfo) -> CallView {
        let contacts = self.profile.contacts().unwrap_or_default();
        let name_of = |id: &PeerId| {
            contacts
                .iter()
                .find(|c| c.id == *id)
                .and_then(|c| c.name.clone())
                .unwrap_or_else(|| id.as_str().chars().take(8).collect())
        };
        let member_names = info
            .members
            .iter()
            .map(|m| (m.id.clone(), name_of(&m.id)))
            .collect();
        let contact = contacts.iter().find(|c| c.id == info.peer).cloned();
        let peer_verified = contact.as_ref().is_some_and(|c| c.verified_at_ms.is_some());
        let peer_is_contact = contact.is_some();
        let peer_name = contact
            .and_then(|c| c.name)
            .unwrap_or_else(|| info.peer.as_str().chars().take(8).collect());
        CallView {
            peer_name,
            peer_is_contact,
            peer_verified,
            safety_number: safety_number(&self.profile.identity().id(), &info.peer),
            muted: Muted {
                audio: info.muted_audio,
                video: info.muted_video,
            },
            remote_muted: Muted {
                audio: info.remote_muted_audio,
                video: info.remote_muted_video,
            },
            member_names,
            info,
        }
    }

    /// Where received files go.
    pub fn download_dir(&self, settings: &Settings) -> PathBuf {
        if settings.download_dir.is_empty() {
            self.default_download_dir.clone()
        } else {
            PathBuf::from(&settings.download_dir)
        }
    }
}
