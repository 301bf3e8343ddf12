#!/usr/bin/env bash
# Start peers/twisted on 127.0.0.1:PORT.  Usage: run.sh PORT [IDLE_SECONDS] [--fixed]
# Debian's /usr/bin/python3 (python3-twisted), not a pyenv python3 on PATH.
set -euo pipefail
exec /usr/bin/python3 "$(dirname "$0")/echo.py" "$@"
