#!/usr/bin/env bash
# Line/branch coverage of the code under test reached by a fuzz corpus (llvm-cov, clang 14).
#   ci/fuzz-coverage.sh TARGET [CORPUS_DIR...]   (default: corpus/TARGET and out/fuzz/TARGET/corpus)
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:?usage: ci/fuzz-coverage.sh TARGET [CORPUS_DIR...]}; shift
dirs=("$@"); [ ${#dirs[@]} -gt 0 ] || dirs=(corpus/"$t" out/fuzz/"$t"/corpus)
cmake -S . -B build-cov -DCMAKE_C_COMPILER=clang -DFRAMESPEC_COVERAGE=ON >/dev/null
cmake --build build-cov -j"$(nproc)" --target "${t}_replay" >/dev/null
prof=$(mktemp -d)
existing=(); for d in "${dirs[@]}"; do [ -e "$d" ] && existing+=("$d"); done
LLVM_PROFILE_FILE="$prof/%p.profraw" build-cov/bin/"${t}_replay" "${existing[@]}" >/dev/null
llvm-profdata-14 merge -o "$prof/all.profdata" "$prof"/*.profraw
llvm-cov-14 report build-cov/bin/"${t}_replay" -instr-profile="$prof/all.profdata" \
  target/frame.c target/conn.c
echo "per function:"
llvm-cov-14 report -show-functions build-cov/bin/"${t}_replay" -instr-profile="$prof/all.profdata" \
  target/frame.c target/conn.c | awk 'NR>2 && $1 != "" && $1 !~ /^-/ && $1 !~ /^File/ {print "  " $1, "lines", $(NF-3), "branches", $NF}'
rm -rf "$prof"
