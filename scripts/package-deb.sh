#!/usr/bin/env bash
# Builds the Linux .deb of the desktop app: target/deb/parley_<version>_<arch>.deb.
#
# The same package `cargo tauri build --bundles deb` makes (release binary with the
# UI embedded, desktop entry, hicolor icons, dependencies from tauri.conf.json plus
# WebKitGTK), assembled with dpkg-deb so no tauri-cli install is needed. With
# tauri-cli installed, `cargo tauri build --bundles deb` works too (tauri.conf.json
# holds the bundle configuration for every platform).
#
# Install and start: sudo apt-get install ./target/deb/parley_*.deb && parley
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# custom-protocol: serve the embedded UI as in a production build (tauri build sets it).
cargo build --locked --release -p parley --features tauri/custom-protocol

version=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' tauri.conf.json | head -n1)
arch=$(dpkg --print-architecture)
root="target/deb/parley_${version}_${arch}"
rm -rf "$root"
mkdir -p "$root/DEBIAN" "$root/usr/bin" "$root/usr/share/applications"
install -m 0755 target/release/parley "$root/usr/bin/parley"
# The release profile keeps debug info for benchmarks; a package does not need it.
strip --strip-debug "$root/usr/bin/parley"
for size in 32x32 128x128 256x256; do
  src="icons/${size}.png"
  [ "$size" = 256x256 ] && src="icons/128x128@2x.png"
  mkdir -p "$root/usr/share/icons/hicolor/$size/apps"
  install -m 0644 "$src" "$root/usr/share/icons/hicolor/$size/apps/parley.png"
done
cat > "$root/usr/share/applications/parley.desktop" <<DESKTOP
[Desktop Entry]
Type=Application
Name=Parley
Comment=Peer-to-peer video calls, chat and file transfer
Exec=parley %u
Icon=parley
Terminal=false
Categories=Network;InstantMessaging;VideoConference;
MimeType=x-scheme-handler/parley;
DESKTOP
config_depends=$(python3 -c 'import json; print(", ".join(json.load(open("tauri.conf.json"))["bundle"]["linux"]["deb"]["depends"]))')
installed_kib=$(du -sk "$root/usr" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: parley
Version: ${version}
Architecture: ${arch}
Maintainer: Parley developers <dev@parley.invalid>
Installed-Size: ${installed_kib}
Depends: libwebkit2gtk-4.1-0, libgtk-3-0, ${config_depends}
Section: net
Priority: optional
Description: Peer-to-peer video calls, chat and file transfer
 Parley calls your contacts directly, peer to peer: video, audio, screen
 sharing, chat and drag-and-drop file transfer, with a signaling server that
 never sees your media.
CONTROL
dpkg-deb --build --root-owner-group "$root" "target/deb/parley_${version}_${arch}.deb"
echo "target/deb/parley_${version}_${arch}.deb"
