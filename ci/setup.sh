#!/usr/bin/env bash
# Install the Debian packages framespec needs (when run as root and something is missing).
# Usage: ci/setup.sh [extra-package ...]
set -euo pipefail

pkgs=(cmake make gcc clang libclang-rt-14-dev pkg-config libjansson-dev libxml2-dev libpcap-dev libmicrohttpd-dev python3 python3-pytest python3-hypothesis
      iproute2 procps nftables util-linux "$@")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ci/setup.sh: missing Debian packages: ${missing[*]}" >&2
  echo "ci/setup.sh: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "ci/setup.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
