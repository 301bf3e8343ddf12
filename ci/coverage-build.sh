#!/usr/bin/env bash
# Servers built with AFL++'s instrumentation, for `framespec fuzz --coverage afl` (docs/fuzzing.md,
# "Coverage guidance"). Not the fuzz targets' AFL++ builds (ci/fuzz.sh): these are whole servers.
#   ci/coverage-build.sh [DIR]      (default build-afl-servers)
# writes DIR/bin/echod, DIR/bin/mutant_deep_lengths, DIR/bin/mutant_deep_split (afl-clang-fast;
# no sanitizer), and with --peers DIR/peers/libevent/echo and DIR/peers/libuv/echo (afl-cc: the
# peers' own code is instrumented, the Debian libraries they call are not).
set -euo pipefail
cd "$(dirname "$0")/.."
peers=0
args=()
for a in "$@"; do
  case "$a" in
    --peers) peers=1 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    -*) echo "ci/coverage-build.sh: unknown option $a (usage: ci/coverage-build.sh [--peers] [DIR])" >&2; exit 2 ;;
    *) args+=("$a") ;;
  esac
done
out=${args[0]:-build-afl-servers}
for c in afl-clang-fast afl-cc; do
  command -v "$c" >/dev/null || { echo "ci/coverage-build.sh: $c not found: apt-get install afl++ (or bash ci/setup.sh afl++)" >&2; exit 2; }
done
export AFL_QUIET=1
CC=afl-clang-fast cmake -S . -B "$out" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$out" -j"$(nproc)" --target echod mutant_deep_lengths mutant_deep_split >/dev/null
if [ "$peers" = 1 ]; then
  for p in libevent libuv; do
    CC=afl-cc bash peers/$p/build.sh "$out/peers/$p" >/dev/null
  done
fi
if [ "$peers" = 1 ]; then
  echo "ci/coverage-build.sh: instrumented servers in $out/bin and $out/peers"
else
  echo "ci/coverage-build.sh: instrumented servers in $out/bin"
fi
