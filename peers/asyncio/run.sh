#!/usr/bin/env bash
# Start peers/asyncio on 127.0.0.1:PORT.  Usage: run.sh PORT [IDLE_SECONDS] [--fixed]
set -euo pipefail
exec /usr/bin/python3 "$(dirname "$0")/echo_asyncio.py" "$@"
