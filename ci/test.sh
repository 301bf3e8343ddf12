#!/usr/bin/env bash
# Run every test: install missing packages (as root), build with gcc (warnings are errors), build
# with clang + ASan/UBSan, run ctest (unit tests, pytest scenarios, mutants, fuzz regressions) in
# both builds, judge the peers CI runs against their expected verdicts (ci/matrix.sh --ci), then a
# short fuzzing smoke run of every target (libFuzzer, and AFL++).
# Usage: ci/test.sh            (from the repository root, or anywhere)
set -euo pipefail
cd "$(dirname "$0")/.."

# the JUnit readers, the package tools and the CI templates' parser (pytest/test_80, test_81)
bash ci/setup.sh afl++ tcpdump strace python3-jinja2 chromium python3-junitparser python3-yaml lintian \
  man-db file dpkg-dev
# npm (for the npm JUnit reader): the image's nodejs brings its own, which Debian's npm conflicts with
command -v npm >/dev/null || bash ci/setup.sh npm
jobs=$(nproc)

echo "== build: gcc, -Werror (build/)"
cmake -S . -B build -DCMAKE_C_COMPILER=gcc -DFRAMESPEC_WERROR=ON >/dev/null
cmake --build build -j"$jobs"

echo "== build: clang, ASan+UBSan, -Werror (build-asan/)"
cmake -S . -B build-asan -DCMAKE_C_COMPILER=clang -DFRAMESPEC_SANITIZE=ON -DFRAMESPEC_WERROR=ON >/dev/null
cmake --build build-asan -j"$jobs"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

echo "== ctest (gcc build)"
(cd build && ctest --output-on-failure -j"$jobs")
echo "== implementation matrix: the peers whose toolchains install in seconds (peers/peers.txt), 3 runs each"
bash ci/matrix.sh --ci
echo "== ctest (ASan+UBSan build)"
(cd build-asan && ctest --output-on-failure -j"$jobs")

echo "== fuzz smoke (libFuzzer 10 s and AFL++ 10 s per target)"
bash ci/fuzz-smoke.sh
