#!/usr/bin/env bash
# The main job: build, start echod, run the whole conformance suite against it.
# Reports land in out/ (TAP in out/framespec.tap, JUnit in out/junit.xml, JSON in out/report.json,
# the HTML page in out/report.html).
# Usage: ci/main.sh [extra framespec run options]   e.g. ci/main.sh --case 'halfclose.*'
set -euo pipefail
cd "$(dirname "$0")/.."

bash ci/setup.sh python3-jinja2
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
echo "built: $(ls build/bin | tr '\n' ' ')"

mkdir -p out
# The dead-peer promises are small so that deadpeer.* takes seconds (as root they run in
# framespec's own network namespace; without root they are skipped, saying why).
promises="--idle-timeout 1 --keepalive 1,1,2 --user-timeout 3000"
echo "== framespec run against echod (started by framespec on a free port; $promises)"
set +e
# shellcheck disable=SC2086  # $promises is a list of options
build/bin/framespec run \
  --exec "build/bin/echod --listen 127.0.0.1:{port} $promises" $promises \
  --junit out/junit.xml --json out/report.json --html out/report.html --label echod "$@" |
  tee out/framespec.tap
rc=${PIPESTATUS[0]}
set -e
echo "framespec exit status: $rc (0: no case failed, warnings allowed; 1: a MUST case failed or was flaky, or the server died between cases; 2: usage, unreachable, a daemonizing server or a report that cannot be written)"
echo "reports: out/framespec.tap out/junit.xml out/report.json out/report.html"
exit "$rc"
