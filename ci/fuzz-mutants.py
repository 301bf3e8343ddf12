#!/usr/bin/env python3
"""Benchmark: does `framespec fuzz` find each in-tree mutant, how fast, and how small is the
shrunk scenario? Prints figures; it is not a timed test (run it on an idle machine).

For every mutant of target/mutants.txt and every seed: `framespec fuzz --exec MUTANT --until
GROUP --seconds S --seed N`, which stops at the first finding under a requirement of the group
the mutant's line names (HALFCLOSE-* for halfclose, ...). Its time (shrinking and confirming
included) is the time to find. Findings under other requirements on the way are listed too:
they are real violations by the mutant, but not the planted bug's. The group finding is then
replayed with `framespec replay`: it must fail the mutant (exit 1) and pass echod (exit 0).

usage: ci/fuzz-mutants.py [--build DIR] [--seconds S] [--seeds N] [--only NAME,...] [--out DIR]
                          [--concurrency N]
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "pytest"))
from mutant_list import mutant_framing, mutants  # noqa: E402

MAX = 65536
# what a mutant's server needs so that its bug can show (and the fuzzer must know it)
# (the deadpeer ones: peers vanish in framespec's network namespace, which needs root)
PROMISES = ["--keepalive", "1,1,2", "--user-timeout", "3000"]
SERVER_ARGS = {"no_idle": ["--idle-timeout", "1"], "silence_is_death": ["--keepalive", "1,1,1"],
               "no_keepalive": PROMISES, "no_user_timeout": PROMISES, "reset_parked": PROMISES}
FUZZ_ARGS = SERVER_ARGS
# groups whose requirements carry another prefix
# (RESET-4, "after a reset the server releases that connection", is RESOURCES-2's descriptor
# check after a reset)
GROUP_PREFIX = {"resources": ("RESOURCES-", "RESET-4")}
# mutants the fuzzer may find under another group's requirement for the same bug: reset_parked
# holds the descriptor of a connection reset between frames; the deadpeer group injects that RST
# from a middlebox (DEADPEER-5), and the fuzzer's own peer may send it first (RESET-4: after a
# reset the server releases that connection)
MUTANT_PREFIX = {"reset_parked": ("DEADPEER-5", "RESET-4"),
                 # the deadpeer group's requirements, each mutant's own
                 "no_keepalive": ("DEADPEER-1",), "no_user_timeout": ("DEADPEER-2",),
                 "silence_is_death": ("DEADPEER-4",)}
OUT_OF_REACH = {
    # the programs write well-formed headers (and oversized ones), never a malformed varint:
    # limits.varint_overlong and limits.varint_overflow catch it (pytest/test_31_teeth.py)
    "varint_eleven": "the fuzzer writes no malformed varint; limits.varint_* catch it",
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--only", default="")
    ap.add_argument("--out", default="")
    ap.add_argument("--concurrency", default="",
                    help="framespec fuzz --concurrency (default: framespec's own)")
    a = ap.parse_args()
    fs = os.path.join(a.build, "bin", "framespec")
    if not os.access(fs, os.X_OK):
        sys.exit("%s: not built (cmake --build %s)" % (fs, a.build))
    only = set(filter(None, a.only.split(",")))
    work = a.out or tempfile.mkdtemp(prefix="fuzz-mutants-")
    rows = []
    failures = 0
    for name, group, desc in mutants():
        if only and name not in only:
            continue
        binary = os.path.join(a.build, "bin", "mutant_" + name)
        if not os.access(binary, os.X_OK):
            sys.exit("%s: not built" % binary)
        if name in OUT_OF_REACH:
            rows.append((name, group, 0, 0, "-", "-", "out of reach: " + OUT_OF_REACH[name], []))
            print("%-20s %-13s out of reach: %s" % (name, group, OUT_OF_REACH[name]), flush=True)
            continue
        prefixes = MUTANT_PREFIX.get(name, GROUP_PREFIX.get(group, (group.upper() + "-",)))
        framing = mutant_framing(name)  # the mutant's bug shows under its framing only
        server = [binary, "--listen", "127.0.0.1:{port}", "--max-frame", str(MAX),
                  "--framing", framing]
        server += SERVER_ARGS.get(name, [])
        echod = [os.path.join(a.build, "bin", "echod"), "--listen", "127.0.0.1:{port}",
                 "--max-frame", str(MAX), "--framing", framing] + SERVER_ARGS.get(name, [])
        times, lines, reqs, notes = [], [], [], []
        for seed in range(1, a.seeds + 1):
            out = os.path.join(work, "%s-%d" % (name, seed))
            shutil.rmtree(out, ignore_errors=True)
            cmd = [fs, "fuzz", "--exec", " ".join(server), "--max-frame", str(MAX),
                   "--framing", framing,
                   "--seconds", str(a.seconds), "--seed", str(seed), "--until",
                   ",".join(prefixes), "--out", out] + FUZZ_ARGS.get(name, []) + \
                (["--concurrency", a.concurrency] if a.concurrency else [])
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.seconds + 240)
            if p.returncode == 2:
                print(p.stderr, file=sys.stderr)
                failures += 1
                continue
            hit = None
            for t, path, flaky in re.findall(r"([\d.]+) s: finding: (\S+)( \(flaky)?", p.stderr):
                req = os.path.basename(path).rsplit("-", 1)[0]
                reqs.append(req + ("(flaky)" if flaky else ""))
                # a flaky finding (fewer than 3 of 3 replays) is not the planted bug found
                if hit is None and req.startswith(prefixes) and not flaky:
                    hit = (float(t), path)
            if hit is None:
                continue
            times.append(hit[0])
            path = hit[1]
            with open(path) as f:
                steps = [l for l in f if l.strip() and not l.startswith("#")]
            lines.append(len(steps))
            # the finding fails the mutant and passes echod under `framespec replay`
            for srv, want in ((server, 1), (echod, 0)):
                r = subprocess.run([fs, "replay", path, "--max-frame", str(MAX + 1),
                                    "--exec", " ".join(srv)], capture_output=True, text=True,
                                   timeout=120)
                if r.returncode != want:
                    notes.append("seed %d: replay against %s exited %d, not %d" % (
                        seed, os.path.basename(srv[0]), r.returncode, want))
                    failures += 1
        found = len(times)
        rows.append((name, group, found, a.seeds,
                     "%.1f" % statistics.median(times) if times else "-",
                     max(lines) if lines else "-", ",".join(sorted(set(reqs))), notes))
        print("%-20s %-13s found %d/%d  median %6s s  longest %3s lines  requirements: %s%s" % (
            rows[-1][:7] + ("" if not notes else "  " + "; ".join(notes),)), flush=True)
    print()
    print("| mutant | group | found (seeds) | median time to find | longest shrunk scenario "
          "| first finding's requirement |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | %s | %d/%d | %s s | %s lines | %s |" % r[:7])
    if not a.out:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
