#!/usr/bin/env python3
"""Benchmark echod against the thread-per-connection baseline, installed peers, and the machine's
physical references — all in one run — and write docs/benchmarks.md.

Servers (each skipped with a note when its runtime is missing):
  echod, echod --threads 2, baseline_echod (thread per connection, blocking),
  Erlang gen_tcp {packet,4} {active,once} (peers/gen_tcp/echo_gen_tcp.erl, escript),
  Python asyncio (peers/asyncio/echo_asyncio.py), socat (raw echo: raw-framing loads only).
Physical references: iperf3 single-stream loopback bandwidth; sockperf TCP ping-pong round trip.

Every load runs against every server in interleaved rounds (A, B, C, A, B, C, ...) so that a slow
moment of a shared machine hits all of them; the report gives the median of the rounds. Figures
come from `framespec bench --json`, which checks every echoed byte.

Usage: ci/bench.py [--build DIR] [--rounds N] [--duration S] [--servers a,b,...] [--out FILE.md]
"""
import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

# (key, description, framespec bench args, metric key, unit, framing)
LOADS = [
    ("small", "pipelined 64 B frames: 50 conns x 16 in flight",
     ["--conns", "50", "--depth", "16", "--size", "64"], "frames_per_s", "frames/s", "4"),
    ("large", "64 KiB frames: 1 conn x 4 in flight",
     ["--conns", "1", "--depth", "4", "--size", "65536"], "mb_per_s", "MB/s", "4"),
    ("pingpong", "ping-pong 64 B: 1 conn x 1 in flight",
     ["--conns", "1", "--depth", "1", "--size", "64"], "rtt_p50", "p50 round trip us", "4"),
    ("raw", "raw bytes, 16 KiB writes: 1 conn x 4 in flight",
     ["--conns", "1", "--depth", "4", "--size", "16384"], "mb_per_s", "MB/s", "raw"),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def servers(build):
    b = os.path.join(build, "bin")
    out = [
        ("echod", "%s/echod --listen 127.0.0.1:{port} --framing {framing}" % b, "all"),
        ("echod --threads 2",
         "%s/echod --listen 127.0.0.1:{port} --framing {framing} --threads 2" % b, "all"),
        ("baseline", "%s/baseline_echod --listen 127.0.0.1:{port} --framing {framing}" % b, "all"),
    ]
    if shutil.which("escript"):
        out.append(("erlang gen_tcp", "escript %s/peers/gen_tcp/echo_gen_tcp.erl {port}" % ROOT, "4"))
    out.append(("python asyncio", "%s %s/peers/asyncio/echo_asyncio.py {port}" % (PY, ROOT), "4"))
    if shutil.which("socat"):
        out.append(("socat", "socat TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork PIPE", "raw"))
    return out


class Proc:
    def __init__(self, cmd, port):
        self.p = subprocess.Popen(cmd, shell=True, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("server did not start: %s" % cmd)

    def stop(self):
        try:
            os.killpg(self.p.pid, 15)
            self.p.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.p.pid, 9)


def bench(framespec, port, args, framing, duration, label):
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        cmd = [framespec, "bench", "--target", "127.0.0.1:%d" % port, "--framing", framing,
               "--duration", str(duration), "--warmup", "0.5", "--json", f.name,
               "--label", label] + args
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
        if p.returncode != 0:
            return None, (p.stdout + p.stderr).strip().splitlines()[-1:]
        r = json.load(open(f.name))
    r["rtt_p50"] = r["rtt_us"]["p50"]
    return r, None


def iperf3_mb_per_s(seconds):
    if not shutil.which("iperf3"):
        return None, "iperf3 not installed"
    port = free_port()
    srv = subprocess.Popen(["iperf3", "-s", "-1", "-p", str(port)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    try:
        p = subprocess.run(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(seconds),
                            "-J"], capture_output=True, text=True, timeout=seconds + 30)
        j = json.loads(p.stdout)
        return j["end"]["sum_received"]["bits_per_second"] / 8 / 1e6, None
    except (ValueError, KeyError, subprocess.TimeoutExpired) as e:
        return None, "iperf3 failed: %s" % e
    finally:
        srv.kill()
        srv.wait()


def sockperf_rtt_us(seconds):
    """sockperf reports one-way latency (half the round trip): the round trip is twice its p50."""
    if not shutil.which("sockperf"):
        return None, "sockperf not installed"
    port = free_port()
    srv = subprocess.Popen(["sockperf", "sr", "--tcp", "-i", "127.0.0.1", "-p", str(port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    try:
        p = subprocess.run(["sockperf", "pp", "--tcp", "-i", "127.0.0.1", "-p", str(port), "-t",
                            str(seconds), "-m", "64"], capture_output=True, text=True,
                           timeout=seconds + 30)
        m = re.search(r"percentile 50\.000 =\s*([\d.]+)", p.stdout + p.stderr)
        if not m:
            return None, "could not parse sockperf output"
        return 2 * float(m.group(1)), None
    finally:
        srv.kill()
        srv.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=2.0)
    ap.add_argument("--servers", default=None, help="comma-separated subset of server names")
    ap.add_argument("--out", default=None, help="write the markdown report here too")
    a = ap.parse_args()
    framespec = os.path.join(a.build, "bin", "framespec")
    svs = servers(a.build)
    if a.servers:
        want = set(a.servers.split(","))
        svs = [s for s in svs if s[0] in want]
    notes, results = [], {}
    for key, desc, args, metric, unit, framing in LOADS:
        active = [s for s in svs if s[2] in ("all", framing)]
        procs = {}
        for name, cmd, _ in active:
            port = free_port()
            try:
                procs[name] = (Proc(cmd.format(port=port, framing=framing), port), port)
            except RuntimeError as e:
                notes.append("%s: %s" % (name, e))
        for rnd in range(a.rounds):
            for name, _, _ in active:
                if name not in procs:
                    continue
                r, err = bench(framespec, procs[name][1], args, framing, a.duration, name)
                if r is None:
                    notes.append("%s, %s: framespec bench failed: %s" % (name, desc, err))
                    continue
                results.setdefault((key, name), []).append(r[metric])
                print("%-8s %-20s round %d: %12.1f %s" % (key, name, rnd + 1, r[metric], unit),
                      file=sys.stderr)
        for pr, _ in procs.values():
            pr.stop()
    iperf, err = iperf3_mb_per_s(max(3, int(a.duration * 2)))
    if err:
        notes.append(err)
    sockperf, err = sockperf_rtt_us(max(3, int(a.duration * 2)))
    if err:
        notes.append(err)

    def med(key, name):
        v = results.get((key, name))
        return statistics.median(v) if v else None

    lines = ["| load | server | %s |" % "figure (median)", "|---|---|---|"]
    for key, desc, args, metric, unit, framing in LOADS:
        for name, _, kind in svs:
            v = med(key, name)
            if v is not None:
                lines.append("| %s | %s | %.1f %s |" % (desc, name, v, unit))
    if iperf:
        lines.append("| iperf3 single stream, loopback | (kernel reference) | %.1f MB/s |" % iperf)
    if sockperf:
        lines.append("| sockperf TCP ping-pong 64 B | (kernel reference) | %.1f us round trip |"
                     % sockperf)

    targets = []

    def target(name, value, want, ok_if_ge=True):
        if value is None:
            targets.append("| %s | n/a | %s | not measured |" % (name, want))
            return
        targets.append("| %s | %.2f | %s | %s |" % (name, value, want, "reached" if (
            value >= float(want.split()[-1]) if ok_if_ge else value <= float(want.split()[-1]))
            else "NOT reached"))

    e_small, b_small, erl_small = med("small", "echod"), med("small", "baseline"), \
        med("small", "erlang gen_tcp")
    target("echod / baseline, pipelined 64 B frames/s",
           e_small / b_small if e_small and b_small else None, ">= 4")
    target("echod / Erlang gen_tcp, pipelined 64 B frames/s",
           e_small / erl_small if e_small and erl_small else None, ">= 10")
    e_large = med("large", "echod")
    target("echod 64 KiB MB/s / iperf3 MB/s", e_large / iperf if e_large and iperf else None,
           ">= 0.5")
    e_pp = med("pingpong", "echod")
    target("echod ping-pong p50 / sockperf round trip", e_pp / sockperf if e_pp and sockperf
           else None, "<= 1.2", ok_if_ge=False)
    b_large, b_pp = med("large", "baseline"), med("pingpong", "baseline")
    target("echod / baseline, 64 KiB MB/s (issue 2)", e_large / b_large if e_large and b_large
           else None, ">= 1.0")
    target("echod / baseline, ping-pong p50 (issue 2)", e_pp / b_pp if e_pp and b_pp else None,
           "<= 1.1", ok_if_ge=False)
    target("echod / baseline, pipelined 64 B (issue 2)", e_small / b_small if e_small and b_small
           else None, ">= 3")

    cmd = "python3 ci/bench.py --rounds %d --duration %g" % (a.rounds, a.duration)
    report = ["# Benchmarks", "",
              "Made by `%s` on %s (%s, %d cores, Linux %s), everything in one run: each load ran "
              "against each server in %d interleaved rounds of %g s; figures are medians. Client: "
              "`framespec bench` (one thread, checks every echoed byte), on the same 2 cores as "
              "the server." % (cmd, time.strftime("%Y-%m-%d"), os.uname().machine,
                               os.cpu_count(), os.uname().release, a.rounds, a.duration), "",
              "## Figures", ""] + lines + ["", "## Targets (ratios from the same run)", "",
                                           "| ratio | value | target | verdict |",
                                           "|---|---|---|---|"] + targets
    if notes:
        report += ["", "## Notes", ""] + ["- %s" % n for n in notes]
    text = "\n".join(report) + "\n"
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
