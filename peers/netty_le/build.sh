#!/usr/bin/env bash
# Build peers/netty_le: it is peers/netty's EchoServer (run.sh passes --le-inclusive), so this
# builds peers/netty into the netty folder beside $1 (default build/peers/netty), where run.sh
# looks for it. Needs Debian default-jdk-headless and libnetty-java.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$here/../../build/peers/netty_le}
exec bash "$here/../netty/build.sh" "$(dirname "$dir")/netty"
