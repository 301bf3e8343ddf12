#!/usr/bin/env python3
"""Benchmark echod against the thread-per-connection baseline, in one run.

Each load is run against each server in interleaved rounds (echod, baseline, echod, ...), so
that a slow moment of a shared machine hits both; the report gives the median of the rounds and
the ratio echod / baseline. Figures come from `framespec bench --json`.

Usage: ci/bench.py [--build DIR] [--rounds N] [--duration S] [--out FILE.md]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

LOADS = [
    ("pipelined 64 B: 50 conns x 16 in flight", ["--conns", "50", "--depth", "16", "--size", "64"],
     "frames_per_s", "frames/s", 3.0),
    ("64 KiB frames: 1 conn x 4 in flight", ["--conns", "1", "--depth", "4", "--size", "65536"],
     "mb_per_s", "MB/s", 1.0),
    ("ping-pong 64 B: 1 conn x 1", ["--conns", "1", "--depth", "1", "--size", "64"],
     "rtt_p50", "p50 rtt us", None),
]


def start(argv):
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = p.stdout.readline().decode()
    if not line.startswith("listening on "):
        p.kill()
        sys.exit("bench: %s did not start: %r" % (argv[0], line))
    return p, line.split()[-1]


def run_bench(framespec, addr, args, duration, label):
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        cmd = [framespec, "bench", "--target", addr, "--duration", str(duration),
               "--warmup", "0.5", "--json", f.name, "--label", label] + args
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
        if p.returncode != 0:
            sys.exit("bench: %s failed (%d): %s%s" % (" ".join(cmd), p.returncode, p.stdout,
                                                       p.stderr))
        r = json.load(open(f.name))
    r["rtt_p50"] = r["rtt_us"]["p50"]
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=float, default=2.0)
    ap.add_argument("--out", default=None, help="also write the markdown report here")
    a = ap.parse_args()
    b = os.path.join(a.build, "bin")
    framespec = os.path.join(b, "framespec")
    servers = [("echod", [os.path.join(b, "echod"), "--listen", "127.0.0.1:0"]),
               ("baseline", [os.path.join(b, "baseline_echod"), "--listen", "127.0.0.1:0"])]
    procs = {}
    for name, argv in servers:
        procs[name] = start(argv)
    results = {}
    try:
        for load, args, key, unit, target in LOADS:
            for rnd in range(a.rounds):
                for name, _ in servers:
                    r = run_bench(framespec, procs[name][1], args, a.duration, name)
                    results.setdefault((load, name), []).append(r[key])
                    print("%-40s %-9s round %d: %12.1f %s" % (load, name, rnd + 1, r[key], unit),
                          file=sys.stderr)
    finally:
        for p, _ in procs.values():
            p.terminate()
            p.wait(10)

    lines = ["| load | metric | echod | baseline | echod / baseline | target |",
             "|---|---|---|---|---|---|"]
    verdicts = []
    for load, args, key, unit, target in LOADS:
        e = statistics.median(results[(load, "echod")])
        bl = statistics.median(results[(load, "baseline")])
        ratio = e / bl if bl else float("inf")
        if key == "rtt_p50":
            want = "<= 1.10 (within 10%)"
            ok = ratio <= 1.10
        else:
            want = ">= %.1f" % target
            ok = ratio >= target
        verdicts.append(ok)
        lines.append("| %s | %s (median of %d) | %.1f | %.1f | %.2f | %s %s |" % (
            load, unit, a.rounds, e, bl, ratio, want, "reached" if ok else "NOT reached"))
    report = "\n".join(lines)
    cmd = "python3 ci/bench.py --rounds %d --duration %s" % (a.rounds, a.duration)
    header = "Benchmark (%s, %s, %d cores): `%s`\n\n" % (
        time.strftime("%Y-%m-%d"), os.uname().machine, os.cpu_count(), cmd)
    print(header + report)
    if a.out:
        with open(a.out, "w") as f:
            f.write(header + report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
