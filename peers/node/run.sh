#!/usr/bin/env bash
# Start peers/node on 127.0.0.1:PORT.  Usage: run.sh PORT [IDLE_SECONDS] [--fixed]
set -euo pipefail
exec node "$(dirname "$0")/echo_node.js" "$@"
