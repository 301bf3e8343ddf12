#!/usr/bin/env bash
# A short fuzzing smoke run of every target, for CI: libFuzzer 10 s each, then AFL++ 10 s each
# (it proves each engine starts, executes and finds nothing known; campaigns are ci/fuzz.sh's).
# Fails when a crash is found (stored under corpus/regressions/), when an engine does not start or
# executes nothing, or when afl-fuzz is not installed (ci/setup.sh afl++ installs it): a smoke
# run that skipped an engine would read as green.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v afl-fuzz >/dev/null || {
  echo "ci/fuzz-smoke.sh: afl-fuzz not found: apt-get install afl++ (or bash ci/setup.sh afl++)" >&2
  exit 1
}
bash ci/fuzz.sh --engine libfuzzer --seconds "${FUZZ_SMOKE_SECONDS:-10}" --jobs 1 all
bash ci/fuzz.sh --engine afl --seconds "${FUZZ_SMOKE_AFL_SECONDS:-10}" --jobs 1 all
