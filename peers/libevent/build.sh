#!/usr/bin/env bash
# Build peers/libevent into $1 (default build/peers/libevent), with $CC (default cc). Needs Debian libevent-dev, pkg-config.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../build/peers/libevent}
mkdir -p "$out"
"${CC:-cc}" -O2 -Wall -o "$out/echo" "$here/echo.c" $(pkg-config --cflags --libs libevent)
