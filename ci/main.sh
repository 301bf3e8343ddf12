#!/usr/bin/env bash
# The main job: build, start echod, run the conformance suite against it.
# Usage: ci/main.sh [framespec run options...]   e.g. ci/main.sh --case 'halfclose.*'
set -euo pipefail
cd "$(dirname "$0")/.."

bash ci/setup.sh
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
echo "built: $(ls build/bin | tr '\n' ' ')"

out=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$out"' EXIT
build/bin/echod --listen 127.0.0.1:0 --idle-timeout 1 >"$out/addr" &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$out/addr" && break; sleep 0.05; done
addr=$(sed -n 's/^listening on //p' "$out/addr")
[ -n "$addr" ] || { echo "echod did not start" >&2; exit 1; }
echo "echod listening on $addr"
build/bin/framespec bench --target "$addr" --conns 8 --depth 4 --size 1:4096 --duration 2
kill -TERM "$pid"
wait "$pid"
echo "echod exited $?"
