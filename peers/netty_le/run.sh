#!/usr/bin/env bash
# Start peers/netty_le on 127.0.0.1:PORT: peers/netty's EchoServer (built by build.sh into
# build/peers/netty) with --le-inclusive.  Usage: run.sh PORT [IDLE_SECONDS] [--fixed]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${FRAMESPEC_PEER_BUILD:-$here/../../build/peers}/netty
exec java -Xmx512m -cp "$out:$(cat "$out/classpath")" EchoServer "$@" --le-inclusive
