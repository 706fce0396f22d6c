//! The app's settings, stored as one JSON value in the profile's settings table.

use parley_engine::rtc::IceServer;
use parley_engine::storage::Profile;
use serde::{Deserialize, Serialize};

/// Settings key in the profile database.
const KEY: &str = "app.settings";

/// What the user can set (docs/ui-api.md `Settings`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    /// Shown to contacts and in the sidebar; empty until first start is done.
    pub display_name: String,
    /// Signaling server; `None` = the embedded one.
    pub server_url: Option<String>,
    /// STUN/TURN servers.
    pub ice_servers: Vec<IceServer>,
    /// Received files go here; empty = the platform's download folder.
    pub download_dir: String,
    /// Camera name, `None` = default.
    pub camera: Option<String>,
    /// Microphone name, `None` = default.
    pub microphone: Option<String>,
    /// Speaker name, `None` = default.
    pub speaker: Option<String>,
    /// `auto`, `en` or `ko`.
    pub language: String,
    /// `system`, `dark` or `light`.
    pub theme: String,
    /// Announce ourselves to people on this network (Nearby, issue 16) while
    /// the embedded server is used; on unless switched off.
    pub nearby_visible: bool,
    /// Echo cancellation on the microphone (on unless switched off).
    pub echo_cancellation: bool,
    /// Noise suppression on the microphone (on unless switched off).
    pub noise_suppression: bool,
    /// Automatic gain control on the microphone (on unless switched off).
    pub gain_control: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            display_name: String::new(),
            server_url: None,
            ice_servers: Vec::new(),
            download_dir: String::new(),
            camera: None,
            microphone: None,
            speaker: None,
            language: String::new(),
            theme: String::new(),
            nearby_visible: true,
            echo_cancellation: true,
            noise_suppression: true,
            gain_control: true,
        }
    }
}

impl Settings {
    /// Reads the settings (defaults where unset or unreadable).
    pub fn load(profile: &Profile) -> Settings {
        let mut s: Settings = profile
            .get_setting(KEY)
            .ok()
            .flatten()
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_default();
        if s.language.is_empty() {
            s.language = "auto".into();
        }
        if s.theme.is_empty() {
            s.theme = "system".into();
        }
        s
    }

    /// Stores the settings.
    pub fn save(&self, profile: &Profile) -> parley_engine::Result<()> {
        let json = serde_json::to_string(self).unwrap_or_default();
        profile.set_setting(KEY, &json)
    }
}
