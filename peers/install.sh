#!/usr/bin/env bash
# Install the Debian packages of peers (peers/peers.txt), as root; all of them without arguments.
# Usage: peers/install.sh [NAME...]      e.g. peers/install.sh go netty
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
want=("$@")
pkgs=()
while read -r name ci cmd rest; do
  case "$name" in ''|'#'*) continue ;; esac
  if [ ${#want[@]} -gt 0 ] && [[ ! " ${want[*]} " == *" $name "* ]]; then continue; fi
  for p in ${rest%%--*}; do pkgs+=("$p"); done
done < "$here/peers.txt"
for n in "${want[@]}"; do
  grep -qE "^$n[[:space:]]" "$here/peers.txt" || { echo "peers/install.sh: no peer '$n' in peers/peers.txt" >&2; exit 2; }
done
[ ${#pkgs[@]} -eq 0 ] && exit 0
# ci/setup.sh installs what is missing (as root), or names the apt-get command
exec bash "$here/../ci/setup.sh" "${pkgs[@]}"
