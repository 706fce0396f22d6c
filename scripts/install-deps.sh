#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages Parley needs to build and test.
# Idempotent: does nothing when everything is already there.
set -euo pipefail
pkgs=(pkg-config build-essential cmake libasound2-dev libopus-dev libclang-dev clang libv4l-dev)
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
fi
