#!/usr/bin/env bash
# Start peers/gen_tcp on 127.0.0.1:PORT.  Usage: run.sh PORT [IDLE_SECONDS] [--fixed]
set -euo pipefail
exec escript "$(dirname "$0")/echo_gen_tcp.erl" "$@"
