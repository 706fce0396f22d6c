//! Tauri's build step: reads ../tauri.conf.json (beside Cargo.toml), embeds the UI
//! and generates the permission set of our commands.

fn main() {
    tauri_build::build();
}
