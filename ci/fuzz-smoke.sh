#!/usr/bin/env bash
# A short fuzzing smoke run of every target, for CI: libFuzzer 20 s each, AFL++ 10 s each (when
# afl-fuzz is installed). Any crash fails the run and is stored under corpus/regressions/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/fuzz.sh --engine libfuzzer --seconds "${FUZZ_SMOKE_SECONDS:-20}" --jobs 1 all
if command -v afl-fuzz >/dev/null; then
  bash ci/fuzz.sh --engine afl --seconds "${FUZZ_SMOKE_AFL_SECONDS:-10}" --jobs 1 all
fi
