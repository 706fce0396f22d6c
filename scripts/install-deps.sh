#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages Parley needs to build and test, and
# tauri-driver (the WebDriver bridge tests/app_window.rs drives the app window with).
# Idempotent: does nothing when everything is already there.
set -euo pipefail
# nasm: openh264 (the H.264 encoder and decoder, built from source) compiles its
# SIMD assembly with it; without it, it builds the plain C kernels silently, at
# about half the speed.
pkgs=(pkg-config build-essential cmake nasm libasound2-dev libopus-dev libclang-dev clang libv4l-dev
  # The Tauri app (WebKitGTK) and its window tests under a virtual X server.
  libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev libsoup-3.0-dev
  xvfb xauth webkit2gtk-driver
  # Screen capture (xcap: XCB with RandR, PipeWire and GBM/EGL for Wayland), and
  # ImageMagick's `display`, which shows the known picture the screen-share test sends,
  # openbox (a window manager, for sharing a window by title) and xprop.
  libxcb1-dev libxcb-randr0-dev libpipewire-0.3-dev libgbm-dev libegl-dev imagemagick
  openbox x11-utils
  # A private session bus for the window test's stand-in notification service.
  dbus-daemon
  # Wayland screen sharing through the desktop portal (tests/screen_portal.rs): the
  # real xdg-desktop-portal and PipeWire, gdbus, and Python's D-Bus bindings for the
  # test's ScreenCast backend.
  xdg-desktop-portal pipewire pipewire-bin wireplumber libglib2.0-bin python3-dbus python3-gi
  # Calls across real networks (tests/nat_*.rs, tests/common/netns.rs): network
  # namespaces, iptables NAT routers and coturn as the STUN/TURN server.
  iproute2 iptables coturn
  # The SFU of group calls beyond the mesh (tests/sfu_interop.rs): Janus 1.1 and
  # its VideoRoom plugin.
  janus
  # A WebRTC peer that is not Parley (tests/browser_peer.rs): headless Chromium
  # driven through chromedriver.
  chromium chromium-driver
  # A sound card for the echo test (tests/call_echo.rs): a private PulseAudio
  # server with null sinks, pactl/paplay, and ALSA's PulseAudio plugin that cpal
  # reaches it through.
  pulseaudio pulseaudio-utils libasound2-plugins)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  # openh264's build script does not look for nasm again by itself: a build
  # made before nasm was here keeps the plain C kernels until it reruns.
  root="$(cd "$(dirname "$0")/.." && pwd)"
  if [[ " ${missing[*]} " == *" nasm "* ]] && [ -d "$root/target" ]; then
    (cd "$root" && cargo clean -q -p openh264-sys2 && cargo clean -q --release -p openh264-sys2) || true
  fi
fi
# tauri-driver: pinned; 2.x drives Tauri 2 apps through WebKitWebDriver on Linux.
TAURI_DRIVER_VERSION=2.1.0
if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver" ]; then
  echo "installing: tauri-driver $TAURI_DRIVER_VERSION"
  cargo install tauri-driver --locked --version "$TAURI_DRIVER_VERSION"
fi
