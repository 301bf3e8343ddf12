#!/usr/bin/env bash
# Build peers/go into $1 (default build/peers/go). Needs Debian golang-go (offline: standard
# library only).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../build/peers/go}
mkdir -p "$out"
export GOCACHE=${GOCACHE:-$out/.gocache} GOPATH=${GOPATH:-$out/.gopath} GO111MODULE=off GOPROXY=off
go build -o "$out/echo" "$here/echo.go"
