#!/usr/bin/env bash
# Benchmark: framespec fuzz's throughput (programs/s) and CPU time per program (user + system of
# framespec and the server together) against echod with --jobs 2, for S seconds each: one program
# at a time per job (--concurrency 1) and many (the default), without an idle timeout and with
# --idle-timeout 2 on both sides; and baseline_echod (thread per connection). Prints the figures
# and their ratios to the --concurrency 1 run of the same setting, measured in the same
# invocation. A benchmark, not a timed test: run it on an idle machine.
#
#   ci/fuzz-throughput.sh [--build DIR] [--seconds S]
set -euo pipefail
cd "$(dirname "$0")/.."
build=build seconds=30
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "ci/fuzz-throughput.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
fs=$build/bin/framespec
[ -x "$fs" ] || { echo "ci/fuzz-throughput.sh: $fs not built" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# server concurrency idle -> "programs/s cpu_ms_per_program" (exits 1 when the campaign found
# something or failed)
rate() {
  local srv=$1 conc=$2 idle=$3 line cpu opt=() sopt=""
  if [ "$idle" != 0 ]; then opt=(--idle-timeout "$idle"); sopt=" --idle-timeout $idle"; fi
  TIMEFORMAT='%U %S'
  { time "$fs" fuzz --exec "$build/bin/$srv --listen 127.0.0.1:{port}$sopt" "${opt[@]}" \
      --jobs 2 --concurrency "$conc" --seconds "$seconds" --seed 1 \
      --out "$out/$srv-$conc-$idle" > "$out/line" 2>/dev/null ; } 2> "$out/cpu"
  line=$(grep ' programs in ' "$out/line")
  echo "$line" | grep -q ' 0 new findings' || { echo "ci/fuzz-throughput.sh: $srv: $line" >&2; exit 1; }
  cpu=$(awk '{print $1 + $2}' "$out/cpu")
  echo "$line" | sed -n 's/.*fuzz: \([0-9]*\) programs in \([0-9.]*\) s.*/\1 \2/p' |
    awk -v cpu="$cpu" '{printf "%d %.3f\n", $1 / $2, cpu * 1000 / $1}'
}
c1=$(rate echod 1 0); cn=$(rate echod 32 0)
i1=$(rate echod 1 2); iN=$(rate echod 32 2)
b1=$(rate baseline_echod 32 0)
awk -v c1="$c1" -v cn="$cn" -v i1="$i1" -v iN="$iN" -v b1="$b1" -v s="$seconds" 'BEGIN {
  split(c1, a); split(cn, b); split(i1, c); split(iN, d); split(b1, e)
  printf "framespec fuzz --jobs 2, %s s each: programs/s (ratio to --concurrency 1), CPU ms per program\n", s
  printf "  echod, --concurrency 1                    %6d  (1.00)  %.3f ms\n", a[1], a[2]
  printf "  echod, --concurrency 32                   %6d  (%.2f)  %.3f ms\n", b[1], b[1] / a[1], b[2]
  printf "  echod --idle-timeout 2, --concurrency 1   %6d  (1.00)  %.3f ms\n", c[1], c[2]
  printf "  echod --idle-timeout 2, --concurrency 32  %6d  (%.2f)  %.3f ms\n", d[1], d[1] / c[1], d[2]
  printf "  baseline_echod, --concurrency 32          %6d  (%.2f)  %.3f ms\n", e[1], e[1] / a[1], e[2]
}'
