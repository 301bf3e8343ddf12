#!/usr/bin/env bash
# The implementation matrix: install the peers' toolchains (as root), build framespec, run every
# peer of peers/peers.txt with --repeat 3, fail when a verdict differs from peers/NAME/expected
# or a --fixed variant does not pass, and write out/matrix/ (matrix.md, matrix.html, fixed.html);
# with every peer, regenerate docs/matrix.md and docs/matrix.png.
# Usage: ci/matrix.sh [--ci | --peers NAME,...] [ci/matrix.py options]
#   --ci   only the peers whose toolchain installs in seconds (ci/test.sh runs this)
set -euo pipefail
cd "$(dirname "$0")/.."

ci=0
peers=()
for a in "$@"; do
  [ "$a" = "--ci" ] && ci=1
done
bash ci/setup.sh python3-jinja2
if [ "$ci" = 1 ]; then
  mapfile -t peers < <(awk '!/^#/ && NF && $2 == "yes" {print $1}' peers/peers.txt)
fi
bash peers/install.sh "${peers[@]}"
if [ ! -x build/bin/framespec ]; then
  cmake -S . -B build -DCMAKE_C_COMPILER=gcc -DFRAMESPEC_WERROR=ON >/dev/null
  cmake --build build -j"$(nproc)"
fi
docs=()
[ "$ci" = 1 ] || [[ " $* " == *" --peers "* ]] || docs=(--docs docs/matrix.md)
exec python3 ci/matrix.py "${docs[@]}" "$@"
