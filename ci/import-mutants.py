#!/usr/bin/python3
"""From a failing case's traffic to a reproducer, for every in-tree mutant (issue 28's acceptance).

For each mutant of target/mutants.txt (the deadpeer group, which needs a namespace, and the
coverage mutants, which no case catches, aside): run its group with `framespec run --json`; then
run each failing case alone under `tcpdump -i lo`, `framespec import` each TCP connection of that
capture (the echo oracle, under the mutant's framing), and replay every import against the mutant
and against echod. A mutant is reproduced when some import fails it (exit 1) and no import fails
echod. Prints a table, and exits 1 when a mutant is not reproduced or an import fails echod.

Needs root (tcpdump on lo). Usage, from the repository root after a build:
    /usr/bin/python3 ci/import-mutants.py [--bin build/bin] [--max-conns 40] [MUTANT...]
Bounded: a case's run has a 300 s deadline, an import or replay 120 s, and at most --max-conns
connections of a case are imported one by one (the first ones; the count is printed).
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "pytest"))
from mutant_list import mutants_with_framing  # noqa: E402
from repro_fidelity import server_cmd, promises  # noqa: E402


def tcpdump_start(path):
    """tcpdump on lo writing every TCP packet to path; returns the process once it captures."""
    td = subprocess.Popen(["tcpdump", "--immediate-mode", "-B", "131072", "-i", "lo", "-s", "0",
                           "-U", "-w", path,
                           "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 10
    line = b""
    while time.time() < deadline and b"listening" not in line:
        line = td.stderr.readline()
        if not line:
            break
    if b"listening" not in line:
        td.kill()
        raise SystemExit("import-mutants: tcpdump did not start (install tcpdump; run as root)")
    return td


def tcpdump_stop(td):
    time.sleep(0.2)  # the last packets
    td.send_signal(signal.SIGINT)
    try:
        td.wait(timeout=10)
    except subprocess.TimeoutExpired:
        td.kill()
        td.wait()


def fs(bin_dir, *args, timeout=120):
    return subprocess.run([os.path.join(bin_dir, "framespec")] + list(args), capture_output=True,
                          text=True, timeout=timeout)


def failing_cases(bin_dir, name, group, framing, work):
    js = os.path.join(work, name + ".json")
    fs(bin_dir, "run", "--exec", server_cmd(bin_dir, "mutant_" + name, framing, group),
       "--framing", framing, "--case", group, "--json", js, *promises(group), timeout=1800)
    if not os.path.exists(js) or not os.path.getsize(js):
        return None
    return [c["id"] for c in json.load(open(js))["cases"]
            if c["status"] in ("fail", "warn", "flaky")]


def import_case(bin_dir, name, group, framing, case, work, max_conns):
    """(connections, imported, failing the mutant, failing echod, notes) for one case."""
    cap = os.path.join(work, "%s.%s.pcap" % (name, case))
    td = tcpdump_start(cap)
    try:
        fs(bin_dir, "run", "--exec", server_cmd(bin_dir, "mutant_" + name, framing, group),
           "--framing", framing, "--case", case, *promises(group), timeout=300)
    finally:
        tcpdump_stop(td)
    listing = fs(bin_dir, "import", cap, "--framing", framing, "-o", os.devnull)
    if listing.returncode != 0:
        return 0, 0, 0, 0, ["import: " + (listing.stderr.strip().splitlines() or [""])[-1][:300]]
    # "framespec import: connection N: TUPLE: what it did", one line each
    conns = len(re.findall(r"(?m)^framespec import: connection \d+: ", listing.stderr))
    fail_mutant, fail_echod, notes = 0, 0, []
    done = 0
    for n in range(1, min(conns, max_conns) + 1):
        out = os.path.join(work, "%s.%s.%d.scenario" % (name, case, n))
        p = fs(bin_dir, "import", cap, "--framing", framing, "--connection", str(n), "-o", out)
        if p.returncode != 0:
            notes.append("connection %d: %s" % (n, (p.stderr.strip().splitlines() or [""])[-1][:300]))
            continue
        done += 1
        vs = {}
        for server in ("mutant_" + name, "echod"):
            r = fs(bin_dir, "replay", out, "--exec", server_cmd(bin_dir, server, framing, group),
                   *promises(group))
            vs[server] = r.returncode
            if r.returncode == 1 and server == "echod":
                notes.append("connection %d fails echod: %s" % (
                    n, (r.stdout.strip().splitlines() or ["(no output)"])[0][:160]))
        fail_mutant += vs["mutant_" + name] == 1
        fail_echod += vs["echod"] == 1
    return conns, done, fail_mutant, fail_echod, notes


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    ap.add_argument("--max-conns", type=int, default=40)
    ap.add_argument("mutants", nargs="*")
    a = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("import-mutants: tcpdump on lo needs root")
    todo = [(n, g, f) for n, g, f, _ in mutants_with_framing()
            if g != "deadpeer" and (not a.mutants or n in a.mutants)]
    bad = 0
    print("| mutant | failing case | connections (imported) | imports failing the mutant | "
          "failing echod |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="import-mutants.") as work:
        for name, group, framing in todo:
            cases = failing_cases(a.bin, name, group, framing, work)
            if not cases:
                print("| %s | (no failing case in %s: %s) | | | |" % (
                    name, group, "no report" if cases is None else "all passed"), flush=True)
                bad += 1
                continue
            reproduced = False
            for case in cases:
                conns, done, fm, fe, notes = import_case(a.bin, name, group, framing, case, work,
                                                         a.max_conns)
                reproduced |= fm > 0
                bad += fe > 0
                print("| %s | %s | %d (%d) | %d | %d |%s" % (
                    name, case, conns, done, fm, fe,
                    "".join("\n    " + n for n in notes[:5])), flush=True)
            bad += not reproduced
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
