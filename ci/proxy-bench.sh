#!/usr/bin/env bash
# framespec proxy's throughput and memory, as ratios against baselines measured in the same run:
# `framespec bench` against echod directly, through `framespec proxy` (no toxic) and through socat
# (a plain TCP relay), in interleaved rounds; then many connections at once through the proxy,
# and its peak RSS (VmHWM).
# Usage: ci/proxy-bench.sh [BUILD_DIR] [ROUNDS] [SECONDS] [CONNS]
#   (defaults: build 3 5 10000; every run is bounded by `framespec bench --timeout`)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rounds=${2:-3}
secs=${3:-5}
conns=${4:-10000}
bin=$build/bin
command -v socat >/dev/null || bash ci/setup.sh socat
work=$(mktemp -d /tmp/proxy-bench.XXXXXX)
pids=()
cleanup() {
  # the servers may have exited already: a kill or wait that finds nothing is not a failure
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "proxy-bench: nothing listens on $1" >&2
  exit 1
}

e=$(free_port); p=$(free_port); s=$(free_port)
"$bin/echod" --listen "127.0.0.1:$e" >/dev/null 2>&1 & pids+=($!)
wait_port "$e"
"$bin/framespec" proxy --listen "127.0.0.1:$p" --upstream "127.0.0.1:$e" --max-conns 20000 \
  >"$work/proxy.out" 2>&1 & proxy=$!; pids+=($proxy)
socat "TCP-LISTEN:$s,bind=127.0.0.1,reuseaddr,fork,backlog=1024" "TCP:127.0.0.1:$e" \
  >/dev/null 2>&1 & pids+=($!)
wait_port "$p"; wait_port "$s"

mbs() { # label port size conns depth -> MB/s (framespec bench --json)
  "$bin/framespec" bench --target "127.0.0.1:$2" --size "$3" --conns "$4" --depth "$5" \
    --duration "$secs" --timeout $((secs * 4 + 30)) --json "$work/b.json" >/dev/null
  /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); r=d.get("results", d); r=r[0] if isinstance(r, list) else r; print("%.1f %.0f" % (r["mb_per_s"], r["rtt_us"]["p99"]))' "$work/b.json"
}

echo "== 64 KiB frames, 1 connection, 8 in flight: MB/s (p99 round trip, us), $rounds rounds of $secs s"
for r in $(seq "$rounds"); do
  d=$(mbs direct "$e" 65536 1 8); x=$(mbs proxy "$p" 65536 1 8); y=$(mbs socat "$s" 65536 1 8)
  echo "round $r: direct $d | framespec proxy $x | socat $y"
  echo "$d $x $y" >>"$work/rounds"
done
/usr/bin/python3 - "$work/rounds" <<'EOF'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1])]
d, x, y = (statistics.median(r[i] for r in rows) for i in (0, 2, 4))
print("median MB/s: direct %.1f, framespec proxy %.1f (%.0f %% of direct), socat %.1f (%.0f %%);"
      " proxy/socat %.2f" % (d, x, 100 * x / d, y, 100 * y / d, x / y))
EOF

echo "== $conns connections at once through the proxy, 64-byte frames, ping-pong"
"$bin/framespec" bench --target "127.0.0.1:$p" --conns "$conns" --size 64 --duration "$secs" \
  --timeout $((secs * 4 + 60)) --json "$work/many.json" >/dev/null
/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); r=d.get("results", d); r=r[0] if isinstance(r, list) else r; print("%d connections: %.0f frames/s, p99 %.0f us, errors %s" % (int(sys.argv[2]), r["frames_per_s"], r["rtt_us"]["p99"], r["errors"]))' "$work/many.json" "$conns"
echo "proxy peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$proxy/status)"
