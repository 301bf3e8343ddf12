#!/usr/bin/env python3
"""The expectations workflow, as a user adopts framespec as a CI gate, for every library peer
(peers/peers.txt) or the ones named:

  1. framespec run --repeat 3 --write-expect OUT/NAME.expect   (the starting file; --repeat
     lists a case that fails some runs as flaky)
  2. framespec run --expect OUT/NAME.expect, 3 separate runs: each must exit 0
  3. the same file against an in-tree mutant whose group the file does not list
     (target/mutants.txt), that group only: must exit 1 and name the new failure (not ok ... ID)
  4. the file plus a line listing a case that passed as failing: `fixed:` and exit 0; exit 1
     with --strict

usage: ci/expect-peers.py [--build DIR] [--idle S] [--out DIR] [NAME...]
Exit 0 when every peer behaves so; 1 otherwise (each problem printed); 2 usage.
"""
import argparse
import os
import re
import shlex
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "pytest"))
sys.path.insert(0, os.path.join(ROOT, "ci"))
from matrix import peers_list  # noqa: E402
from mutant_list import mutants_with_framing  # noqa: E402

# the groups a mutant of step 3 may come from: they need no root, promise or restart
GROUPS = ("framing", "limits", "segmentation", "halfclose", "reset", "concurrency")


def fs_run(fs, exe, idle, extra, *args, timeout=1800):
    cmd = [fs, "run", "--exec", exe, "--idle-timeout", str(idle), "--timeout", "1500"] + \
        extra + list(args)
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return p, time.time() - t0


def check_peer(fs, name, idle, out, build):
    d = os.path.join(ROOT, "peers", name)
    env = dict(os.environ, FRAMESPEC_PEER_BUILD=os.path.join(build, "peers"))
    if os.path.exists(os.path.join(d, "build.sh")):
        subprocess.run(["bash", os.path.join(d, "build.sh"), os.path.join(build, "peers", name)],
                       check=True, capture_output=True, env=env, timeout=600)
    os.environ["FRAMESPEC_PEER_BUILD"] = env["FRAMESPEC_PEER_BUILD"]
    extra = []
    if os.path.exists(os.path.join(d, "args")):
        with open(os.path.join(d, "args")) as f:
            extra = shlex.split(" ".join(l for l in f if not l.startswith("#")))
    exe = "%s {port} %d" % (shlex.quote(os.path.join(d, "run.sh")), idle)
    exp = os.path.join(out, name + ".expect")
    problems, notes = [], []
    p, secs = fs_run(fs, exe, idle, extra, "--repeat", "3", "--write-expect", exp)
    listed = [l.split()[0] for l in open(exp) if l.strip() and not l.startswith("#")]
    notes.append("--write-expect (3 runs, %.0f s): %d listed" % (secs, len(listed)))
    for k in range(3):
        p, secs = fs_run(fs, exe, idle, extra, "--expect", exp)
        summary = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
        notes.append("--expect run %d: exit %d (%s, %.0f s)" % (k + 1, p.returncode, summary, secs))
        if p.returncode != 0:
            problems.append("--expect run %d exited %d: %s" % (
                k + 1, p.returncode, "; ".join(re.findall(r"^not ok \d+ - \S+$", p.stdout, re.M))))
    groups = {c.split(".")[0] for c in listed}
    mut = next(((m, g, f) for m, g, f, _ in mutants_with_framing()
                if g in GROUPS and g not in groups and f == "4"), None)
    if mut is None:
        problems.append("no mutant of a group the file does not list")
    else:
        m, g, _ = mut
        mexe = "%s --listen 127.0.0.1:{port} --idle-timeout %d" % (
            os.path.join(os.path.dirname(fs), "mutant_" + m), idle)
        p, _ = fs_run(fs, mexe, idle, [], "--expect", exp, "--case", g + ".*")
        new = re.findall(r"^not ok \d+ - (\S+)$", p.stdout, re.M)
        notes.append("vs mutant_%s (%s.*): exit %d, new: %s" % (m, g, p.returncode,
                                                               ", ".join(new) or "-"))
        if p.returncode != 1 or not new:
            problems.append("mutant_%s: exit %d, new failures named: %s" % (m, p.returncode, new))
    passing = next(c for c in ("framing.single", "framing.sequence", "segmentation.one_byte")
                   if c not in listed)
    fixed = os.path.join(out, name + ".fixed.expect")
    with open(fixed, "w") as f:
        f.write(open(exp).read() + "%s fail MUST listed to see it fixed\n" % passing)
    for strict, want in (([], 0), (["--strict"], 1)):
        p, _ = fs_run(fs, exe, idle, extra, "--expect", fixed, "--case", passing, *strict)
        ok = p.returncode == want and ("# fixed: %s passed" % passing) in p.stdout
        notes.append("%s listed as failing%s: exit %d%s" % (
            passing, " --strict" if strict else "", p.returncode,
            ", fixed: printed" if "# fixed:" in p.stdout else ""))
        if not ok:
            problems.append("fixed %s%s: exit %d" % (passing, " --strict" if strict else "",
                                                     p.returncode))
    return problems, notes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--idle", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "expect-peers"))
    a = ap.parse_args()
    fs = os.path.join(a.build, "bin", "framespec")
    os.makedirs(a.out, exist_ok=True)
    names = [p[0] for p in peers_list()]
    bad = [n for n in a.names if n not in names]
    if bad:
        print("ci/expect-peers.py: no peer %s (peers/peers.txt)" % ", ".join(bad), file=sys.stderr)
        return 2
    all_problems = []
    for name in a.names or names:
        problems, notes = check_peer(fs, name, a.idle, a.out, a.build)
        print("== %s: %s" % (name, "ok" if not problems else "PROBLEMS"), flush=True)
        for n in notes:
            print("   " + n, flush=True)
        for pr in problems:
            print("   PROBLEM: " + pr, flush=True)
        all_problems += ["%s: %s" % (name, pr) for pr in problems]
    print("ci/expect-peers.py: %d peers, %d problems" % (len(a.names or names), len(all_problems)))
    return 1 if all_problems else 0


if __name__ == "__main__":
    sys.exit(main())
