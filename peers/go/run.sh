#!/usr/bin/env bash
# Start peers/go on 127.0.0.1:PORT (built by build.sh).  Usage: run.sh PORT [IDLE_SECONDS] [--fixed]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec "${FRAMESPEC_PEER_BUILD:-$here/../../build/peers}/go/echo" "$@"
