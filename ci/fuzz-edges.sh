#!/usr/bin/env bash
# Benchmark: edges of a server reached by `framespec fuzz` with coverage guidance and without it,
# side by side, on the same instrumented binary and the same seconds (docs/fuzzing.md, "Coverage
# guidance"). Prints figures; not a timed test (run it on an idle machine).
#   ci/fuzz-edges.sh [--seconds S] [--jobs J] [--concurrency N] [--servers echod,libevent,libuv]
#                    [--out DIR]
# builds the instrumented servers (ci/coverage-build.sh --peers build-afl-servers), runs for each
# server `--coverage afl` then `--coverage afl-blind`, each S seconds (default 300), and writes
# DIR/edges.html (framespec report of the campaigns' coverage.csv; default out/edges).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=300 jobs=2 conc=1 servers=echod,libevent,libuv out=out/edges
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --concurrency) conc=$2; shift 2 ;;
    --servers) servers=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "ci/fuzz-edges.sh: unknown option $1 (--help)" >&2; exit 2 ;;
  esac
done
fs=build/bin/framespec
[ -x "$fs" ] || { echo "ci/fuzz-edges.sh: $fs not built (cmake --build build)" >&2; exit 2; }
bash ci/coverage-build.sh --peers build-afl-servers >/dev/null
mkdir -p "$out"
dirs=()
printf '| server | mode | seconds | programs/s | edges | coverage corpus | findings |\n|---|---|---|---|---|---|---|\n'
for s in ${servers//,/ }; do
  case "$s" in
    echod) cmd="build-afl-servers/bin/echod --listen 127.0.0.1:{port}" ;;
    libevent|libuv) cmd="build-afl-servers/peers/$s/echo {port}" ;;
    *) echo "ci/fuzz-edges.sh: unknown server $s (echod, libevent, libuv)" >&2; exit 2 ;;
  esac
  for mode in afl afl-blind; do
    d=$out/$s-$mode
    rm -rf "$d"
    rc=0
    "$fs" fuzz --exec "$cmd" --coverage "$mode" --jobs "$jobs" --concurrency "$conc" \
      --seconds "$seconds" --out "$d" >"$d.log" 2>&1 || rc=$?
    # exit 1 is findings (the peers have known failures, peers/*/expected); 2 is an error
    if [ "$rc" = 2 ]; then cat "$d.log" >&2; exit 2; fi
    summary=$(grep -m1 '^fuzz: [0-9]* programs' "$d.log")
    rate=$(sed -n 's/.*(\([0-9]*\)\/s).*/\1/p' <<<"$summary")
    last=$(tail -n 1 "$d/coverage.csv")
    IFS=, read -r secs progs edges corpus found <<<"$last"
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$s" "$mode" "$secs" "$rate" "$edges" "$corpus" "$found"
    dirs+=("$s-$mode=$d")
  done
done
"$fs" report "$out/edges.html" "${dirs[@]}" --title "framespec fuzz: edges reached, guided vs black-box"
