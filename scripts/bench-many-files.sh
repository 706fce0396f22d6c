#!/usr/bin/env bash
# Many small files against one big one (issue 14): N files of 4 KiB (default
# 10,000, in 10 folders) sent with `parley-cli send DIR` to `parley-cli receive`
# over loopback through a local parley-signal, then the same bytes as one file,
# in the same run. Prints both times (from the send command's start to its end:
# connection, queueing, hashing, transfer, verification) and their ratio.
#
# Usage: scripts/bench-many-files.sh [N] [BIN_DIR]   (BIN_DIR default target/debug,
# whose dev profile is optimised; build first: cargo build -p parley-cli -p parley-signal)
set -euo pipefail
N=${1:-10000}
B=$(realpath "${2:-target/debug}")
W=$(mktemp -d)
trap 'kill "${SIG:-}" 2>/dev/null || true; rm -rf "$W"' EXIT
cd "$W"
PORT=$((20000 + RANDOM % 20000))
"$B/parley-signal" --listen "127.0.0.1:$PORT" >sig.log 2>&1 & SIG=$!
S="ws://127.0.0.1:$PORT/ws"
A=$("$B/parley-cli" --profile a id | tail -1)
BOB=$("$B/parley-cli" --profile b id | tail -1)
"$B/parley-cli" --profile a contact add "$BOB" >/dev/null
"$B/parley-cli" --profile b contact add "$A" >/dev/null
python3 - "$N" <<'PY'
import os, sys
n = int(sys.argv[1])
for i in range(n):
    d = f"many/d{i % 10}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/f{i:05}.bin", "wb") as f:
        f.write(os.urandom(4096))
os.makedirs("one", exist_ok=True)
with open("one/all.bin", "wb") as f:
    f.write(os.urandom(4096 * n))
PY
# Sends $1 (expecting $2 entries at the receiver); prints the seconds it took.
run() {
  rm -rf inbox
  "$B/parley-cli" --profile b --server "$S" receive --receive-dir inbox --count "$2" --timeout 300 >b.out 2>b.err &
  local r=$!
  local start end
  start=$(date +%s.%N)
  "$B/parley-cli" --profile a --server "$S" send "$BOB" "$1" --timeout 300 >a.out 2>a.err
  end=$(date +%s.%N)
  wait "$r"
  local got
  got=$(grep -c '^received' b.out || true)
  [ "$got" = "$2" ] || { echo "only $got of $2 arrived" >&2; exit 1; }
  python3 -c "print(f'{$end - $start:.2f}')"
}
many=$(run many "$N")
one=$(run one/all.bin 1)
mib=$(python3 -c "print(f'{4096 * $N / 1048576:.1f}')")
echo "many files: $N x 4 KiB ($mib MiB) in $many s ($(python3 -c "print(f'{$N / $many:.0f}')") files/s)"
echo "one file:   $mib MiB in $one s (reference, same run)"
echo "ratio many/one: $(python3 -c "print(f'{$many / $one:.2f}')")   target (issue 14): many <= 10 s"
