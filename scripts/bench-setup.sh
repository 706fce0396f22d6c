#!/usr/bin/env bash
# What parley-bench --setup needs beyond the test command's packages, once per
# machine: Debian's chromium (the reference), ffmpeg, and the 1280x720 30 frames/s
# footage made from ../shared/media/chrome.webm (its first 10 s, scaled up) at
# target/bench-media/chrome-1280x720-30fps.y4m (about 415 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v python3 >/dev/null || need+=(python3)
if ((${#need[@]})); then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq "${need[@]}"
fi
src="${PARLEY_MEDIA:-../shared/media}/chrome.webm"
out=target/bench-media/chrome-1280x720-30fps.y4m
if [ ! -s "$out" ]; then
    mkdir -p "$(dirname "$out")"
    ffmpeg -loglevel error -y -t 10 -i "$src" -vf scale=1280:720,fps=30 -pix_fmt yuv420p "$out.tmp.y4m"
    mv "$out.tmp.y4m" "$out"
fi
echo "bench set-up done: $out"
