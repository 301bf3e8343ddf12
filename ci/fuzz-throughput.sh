#!/usr/bin/env bash
# Benchmark: framespec fuzz's throughput (programs/s) and CPU time per program (user + system of
# framespec and the server together) against echod with --jobs 2, for S seconds each: one program
# at a time per job (--concurrency 1) and many (the default), without an idle timeout and with
# --idle-timeout 2 on both sides; and baseline_echod (thread per connection). Prints the figures
# and their ratios to the --concurrency 1 run of the same setting, measured in the same
# invocation. A benchmark, not a timed test: run it on an idle machine.
#
#   ci/fuzz-throughput.sh [--build DIR] [--seconds S] [--coverage AFL_DIR]
#
# --coverage: instead, `--coverage afl` against echod built with afl-clang-fast (AFL_DIR/bin,
# ci/coverage-build.sh): one server per job, and 8 per job (--concurrency 8), with and without
# an idle timeout; ratios to the black-box campaign against the same binary (--coverage
# afl-blind, one server per job).
set -euo pipefail
cd "$(dirname "$0")/.."
build=build seconds=30 cov=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --coverage) cov=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "ci/fuzz-throughput.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
fs=$build/bin/framespec
[ -x "$fs" ] || { echo "ci/fuzz-throughput.sh: $fs not built" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# server concurrency idle -> "programs/s cpu_ms_per_program" (exits 1 when the campaign found
# something or failed)
# (with --coverage: the server's directory and mode in $bindir and $mode)
bindir=$build/bin mode=""
rate() {
  local srv=$1 conc=$2 idle=$3 line cpu opt=() sopt=""
  if [ "$idle" != 0 ]; then opt=(--idle-timeout "$idle"); sopt=" --idle-timeout $idle"; fi
  if [ -n "$mode" ]; then opt+=(--coverage "$mode"); fi
  TIMEFORMAT='%U %S'
  { time "$fs" fuzz --exec "$bindir/$srv --listen 127.0.0.1:{port}$sopt" "${opt[@]}" \
      --jobs 2 --concurrency "$conc" --seconds "$seconds" --seed 1 \
      --out "$out/$srv-$conc-$idle-$mode" > "$out/line" 2>/dev/null ; } 2> "$out/cpu"
  line=$(grep ' programs in ' "$out/line")
  echo "$line" | grep -q ' 0 new findings' || { echo "ci/fuzz-throughput.sh: $srv: $line" >&2; exit 1; }
  cpu=$(awk '{print $1 + $2}' "$out/cpu")
  echo "$line" | sed -n 's/.*fuzz: \([0-9]*\) programs in \([0-9.]*\) s.*/\1 \2/p' |
    awk -v cpu="$cpu" '{printf "%d %.3f\n", $1 / $2, cpu * 1000 / $1}'
}
if [ -n "$cov" ]; then
  bindir=$cov/bin
  [ -x "$bindir/echod" ] || { echo "ci/fuzz-throughput.sh: $bindir/echod: run bash ci/coverage-build.sh $cov" >&2; exit 2; }
  mode=afl-blind; bb=$(rate echod 1 0); bi=$(rate echod 1 2)
  mode=afl; g1=$(rate echod 1 0); g8=$(rate echod 8 0); i1=$(rate echod 1 2); i8=$(rate echod 8 2)
  awk -v bb="$bb" -v bi="$bi" -v g1="$g1" -v g8="$g8" -v i1="$i1" -v i8="$i8" -v s="$seconds" 'BEGIN {
    split(bb, a); split(bi, b); split(g1, c); split(g8, d); split(i1, e); split(i8, f)
    printf "framespec fuzz --jobs 2 against echod built with afl-clang-fast, %s s each: programs/s (ratio to black-box), CPU ms per program\n", s
    printf "  --coverage afl-blind, 1 server per job                    %6d  (1.00)  %.3f ms\n", a[1], a[2]
    printf "  --coverage afl, 1 server per job                          %6d  (%.2f)  %.3f ms\n", c[1], c[1] / a[1], c[2]
    printf "  --coverage afl, 8 servers per job                         %6d  (%.2f)  %.3f ms\n", d[1], d[1] / a[1], d[2]
    printf "  --idle-timeout 2: --coverage afl-blind, 1 server per job  %6d  (1.00)  %.3f ms\n", b[1], b[2]
    printf "  --idle-timeout 2: --coverage afl, 1 server per job        %6d  (%.2f)  %.3f ms\n", e[1], e[1] / b[1], e[2]
    printf "  --idle-timeout 2: --coverage afl, 8 servers per job       %6d  (%.2f)  %.3f ms\n", f[1], f[1] / b[1], f[2]
  }'
  exit 0
fi
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
