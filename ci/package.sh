#!/usr/bin/env bash
# Build the Debian package: framespec_<version>_<arch>.deb in the repository root (CPack's DEB
# generator; what goes in is cmake/install.cmake's: framespec, echod, the report tool, man pages,
# a bash completion, copyright and changelog; no test artefact), then check it with lintian
# (an error fails this script).
# Usage: bash ci/package.sh            (from anywhere; as root it installs what it needs)
# Install it:  apt-get install ./framespec_*.deb        Remove it:  apt-get purge framespec
set -euo pipefail
cd "$(dirname "$0")/.."

bash ci/setup.sh dpkg-dev file lintian man-db
dir=build-pkg
rm -rf "$dir"
# Debian's hardening flags (dpkg-buildflags: stack protector, _FORTIFY_SOURCE, relro, bindnow)
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
CFLAGS="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
LDFLAGS="$(dpkg-buildflags --get LDFLAGS)"
export CFLAGS LDFLAGS
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc -DFRAMESPEC_WERROR=ON \
  -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON >/dev/null
# only what is installed is built: framespec, echod, the compressed man pages and changelog
cmake --build "$dir" -j"$(nproc)" --target framespec echod fs_compressed
rm -f framespec_*.deb
(cd "$dir" && cpack -G DEB >/dev/null)
deb=$(ls "$dir"/framespec_*.deb)
mv "$deb" .
deb=$(basename "$deb")
echo "ci/package.sh: wrote $deb"
dpkg-deb --field "$deb" Package Version Architecture Depends Recommends
if command -v lintian >/dev/null; then
  # lintian's exit status: 1 when it finds an error (warnings are printed, not fatal)
  if ! lintian --fail-on error "$deb"; then
    echo "ci/package.sh: lintian found errors in $deb" >&2
    exit 1
  fi
  echo "ci/package.sh: lintian: no errors"
else
  echo "ci/package.sh: lintian is not installed (apt-get install lintian): not checked" >&2
  exit 1
fi
