#!/usr/bin/env bash
# Type-checks the platform code for Windows and macOS from Linux (`cargo check`, no
# linking): the screen, camera and audio backends behind cfg, and on Windows the app.
# Needs the rust-std targets (rustup), MinGW for Windows' C dependencies, and zig
# (from PyPI) as the C compiler for macOS. Not part of CI: it downloads ~300 MB.
# The app is not checked for macOS: its notification plugin compiles Objective-C
# against Cocoa, which needs Apple's SDK.
# Usage: scripts/check-cross.sh [PACKAGE ...]   (default: parley-engine parley-cli,
# plus parley on Windows)
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=("$@")
win_pkgs=("${pkgs[@]}")
if [ ${#pkgs[@]} -eq 0 ]; then
  pkgs=(parley-engine parley-cli)
  win_pkgs=(parley-engine parley-cli parley)
fi
args=()
for p in "${pkgs[@]}"; do args+=(-p "$p"); done
win_args=()
for p in "${win_pkgs[@]}"; do win_args+=(-p "$p"); done

rustup target add x86_64-pc-windows-gnu aarch64-apple-darwin
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
if ! dpkg-query -W -f='${Status}' gcc-mingw-w64-x86-64 2>/dev/null | grep -q "install ok installed"; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 python3-venv >/dev/null
fi

# zig (from PyPI, in a throwaway venv) as a macOS cross C compiler: it ships the
# macOS libc headers. Rust passes clang-style target flags zig does not take.
zig=$(mktemp -d)
trap 'rm -rf "$zig"' EXIT
python3 -m venv "$zig/venv"
"$zig/venv/bin/pip" install -q ziglang
py="$zig/venv/bin/python"
for tool in cc c++; do
  cat > "$zig/$tool" <<WRAP
#!/bin/sh
args=""
for a in "\$@"; do
  case "\$a" in --target=*|-arch|arm64) ;; *) args="\$args '\$a'";; esac
done
eval exec "$py" -m ziglang $tool -target aarch64-macos \$args
WRAP
done
printf '#!/bin/sh\nexec "%s" -m ziglang ar "$@"\n' "$py" > "$zig/ar"
chmod +x "$zig"/*

echo "== Windows (x86_64-pc-windows-gnu)"
cargo check --locked "${win_args[@]}" --target x86_64-pc-windows-gnu
echo "== macOS (aarch64-apple-darwin)"
CC_aarch64_apple_darwin="$zig/cc" CXX_aarch64_apple_darwin="$zig/c++" AR_aarch64_apple_darwin="$zig/ar" \
  cargo check --locked "${args[@]}" --target aarch64-apple-darwin
echo "cross checks passed: Windows ${win_pkgs[*]}; macOS ${pkgs[*]}"
