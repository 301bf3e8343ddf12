#!/usr/bin/env bash
# Build peers/netty into $1 (default build/peers/netty). Needs Debian default-jdk-headless and
# libnetty-java (the jars in /usr/share/java).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../build/peers/netty}
mkdir -p "$out"
cp=$(ls /usr/share/java/netty-{buffer,codec,common,handler,resolver,transport}.jar | paste -sd: -)
javac -d "$out" -cp "$cp" "$here/EchoServer.java"
echo "$cp" > "$out/classpath"
