#!/usr/bin/env bash
# Build peers/libuv into $1 (default build/peers/libuv), with $CC (default cc). Needs Debian libuv1-dev, pkg-config.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../build/peers/libuv}
mkdir -p "$out"
"${CC:-cc}" -O2 -Wall -o "$out/echo" "$here/echo.c" $(pkg-config --cflags --libs libuv)
