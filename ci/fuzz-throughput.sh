#!/usr/bin/env bash
# Benchmark: framespec fuzz's throughput (programs/s) against echod, with 1 and 2 jobs, and against
# baseline_echod (thread per connection) with 2 jobs, each for S seconds, on this machine. Prints
# the figures and their ratios to the 1-job run measured in the same invocation. A benchmark, not
# a timed test: run it on an idle machine.
#
#   ci/fuzz-throughput.sh [--build DIR] [--seconds S]
set -euo pipefail
cd "$(dirname "$0")/.."
build=build seconds=30
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "ci/fuzz-throughput.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
fs=$build/bin/framespec
[ -x "$fs" ] || { echo "ci/fuzz-throughput.sh: $fs not built" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
rate() { # server jobs -> programs/s (exits 1 when the campaign found something or failed)
  local line
  line=$("$fs" fuzz --exec "$build/bin/$1 --listen 127.0.0.1:{port}" --jobs "$2" \
           --seconds "$seconds" --seed 1 --out "$out/$1-$2" 2>/dev/null | tail -1)
  echo "$line" | grep -q ' 0 new findings' || { echo "ci/fuzz-throughput.sh: $1: $line" >&2; exit 1; }
  echo "$line" | sed -n 's/.*(\([0-9]*\)\/s).*/\1/p'
}
one=$(rate echod 1)
two=$(rate echod 2)
base=$(rate baseline_echod 2)
awk -v one="$one" -v two="$two" -v base="$base" -v s="$seconds" 'BEGIN {
  printf "framespec fuzz, %s s each, programs/s (ratio to echod with 1 job):\n", s
  printf "  echod, --jobs 1           %6d  (1.00)\n", one
  printf "  echod, --jobs 2           %6d  (%.2f)\n", two, two / one
  printf "  baseline_echod, --jobs 2  %6d  (%.2f)\n", base, base / one
}'
