#!/usr/bin/env python3
"""Benchmark: does `framespec fuzz` find each in-tree mutant, how fast, and how small is the
shrunk scenario? Prints figures; it is not a timed test (run it on an idle machine).

For every mutant of target/mutants.txt and every seed: `framespec fuzz --exec MUTANT --until
GROUP --seconds S --seed N`, which stops at the first finding under a requirement of the group
the mutant's line names (HALFCLOSE-* for halfclose, ...). Its time (shrinking and confirming
included) is the time to find. Findings under other requirements on the way are listed too:
they are real violations by the mutant, but not the planted bug's. The group finding is then
replayed with `framespec replay`: it must fail the mutant (exit 1) and pass echod (exit 0).

With --coverage, the deep mutants instead (target/mutants.txt group coverage: bugs behind a
sequence of states, meant for coverage guidance): each seed runs `framespec fuzz --coverage afl`
against the mutant built with afl-clang-fast (ci/coverage-build.sh, in --cov-build DIR), and then
black-box (`--coverage afl-blind`, the same binary and seconds) beside it; a finding is replayed
on the uninstrumented build (--build): it must fail the mutant and pass echod.

usage: ci/fuzz-mutants.py [--build DIR] [--seconds S] [--seeds N] [--only NAME,...] [--out DIR]
                          [--concurrency N] [--jobs J]
                          [--coverage [--cov-build DIR] [--modes afl,afl-blind]]
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
# every requirement group's prefix: a deep mutant is baseline_echod but for its one bug, so its
# first confirmed finding, whatever it cites, is that bug
ANY_REQ = ("FRAMING-", "SEGMENTATION-", "LIMITS-", "HALFCLOSE-", "RESET-", "IDLE-",
           "BACKPRESSURE-", "CONCURRENCY-", "RESOURCES-", "LIFECYCLE-", "LATENCY-", "DEADPEER-")
OUT_OF_REACH = {
    # the programs write well-formed headers (and oversized ones), never a malformed varint:
    # limits.varint_overlong and limits.varint_overflow catch it (pytest/test_31_teeth.py)
    "varint_eleven": "the fuzzer writes no malformed varint; limits.varint_* catch it",
}


def campaign(a, fs, name, binary, framing, seed, prefixes, work, tag, extra):
    """One `framespec fuzz` run until a confirmed finding under prefixes. Returns (time to find
    or None, finding path or None, [requirements found], stderr, exit status)."""
    server = [binary, "--listen", "127.0.0.1:{port}", "--max-frame", str(MAX), "--framing", framing]
    server += SERVER_ARGS.get(name, [])
    out = os.path.join(work, "%s-%s%d" % (name, tag, seed))
    shutil.rmtree(out, ignore_errors=True)
    cmd = [fs, "fuzz", "--exec", " ".join(server), "--max-frame", str(MAX), "--framing", framing,
           "--seconds", str(a.seconds), "--seed", str(seed), "--until", ",".join(prefixes),
           "--out", out] + FUZZ_ARGS.get(name, []) + extra + \
        (["--concurrency", a.concurrency] if a.concurrency else []) + \
        (["--jobs", str(a.jobs)] if a.jobs else [])
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.seconds + 240)
    hit, reqs = None, []
    for t, path, flaky in re.findall(r"([\d.]+) s: finding: (\S+)( \(flaky)?", p.stderr):
        req = os.path.basename(path).rsplit("-", 1)[0]
        reqs.append(req + ("(flaky)" if flaky else ""))
        # a flaky finding (fewer than 3 of 3 replays) is not the planted bug found
        if hit is None and req.startswith(prefixes) and not flaky:
            hit = (float(t), path)
    edges = re.search(r"coverage \([^)]*\): (\d+) edges", p.stdout)
    return (hit[0] if hit else None, hit[1] if hit else None, reqs, p.stderr, p.returncode,
            int(edges.group(1)) if edges else None)


def replays(fs, build, name, framing, path, seed, notes):
    """The finding fails the mutant and passes echod under `framespec replay` (plain builds)."""
    bad = 0
    for binary, want in (("mutant_" + name, 1), ("echod", 0)):
        srv = [os.path.join(build, "bin", binary), "--listen", "127.0.0.1:{port}", "--max-frame",
               str(MAX), "--framing", framing] + SERVER_ARGS.get(name, [])
        r = subprocess.run([fs, "replay", path, "--max-frame", str(MAX + 1), "--exec",
                            " ".join(srv)], capture_output=True, text=True, timeout=120)
        if r.returncode != want:
            notes.append("seed %d: replay against %s exited %d, not %d" % (
                seed, binary, r.returncode, want))
            bad += 1
    return bad


def shrunk_lines(path):
    with open(path) as f:
        return len([l for l in f if l.strip() and not l.startswith("#")])


def coverage_main(a, fs, work):
    """The deep mutants: guided and black-box, the same instrumented binary and seconds."""
    failures = 0
    print("| mutant | guided: found | median time to find | longest shrunk scenario | edges "
          "| black-box: found | edges |")
    print("|---|---|---|---|---|---|---|")
    for name, group, _ in mutants(coverage=True):
        if group != "coverage" or (a.only and name not in a.only.split(",")):
            continue
        binary = os.path.join(a.cov_build, "bin", "mutant_" + name)
        if not os.access(binary, os.X_OK):
            sys.exit("%s: not built (bash ci/coverage-build.sh %s)" % (binary, a.cov_build))
        framing = mutant_framing(name)
        res = {"afl": ([], [], [], 0), "afl-blind": ([], [], [], 0)}
        notes = []
        for seed in range(1, a.seeds + 1):
            for mode in a.modes.split(","):
                t, path, reqs, err, rc, edges = campaign(a, fs, name, binary, framing, seed,
                                                         ANY_REQ, work, mode + "-",
                                                         ["--coverage", mode])
                if rc == 2:
                    print(err, file=sys.stderr)
                    failures += 1
                    continue
                times, lines, ed, _ = res[mode]
                if edges is not None:
                    ed.append(edges)
                print("  %s seed %d %-9s: %s%s" % (name, seed, mode, "found in %.1f s" % t if t
                                                   else "not found in %g s" % a.seconds,
                                                   ", edges %s" % edges), flush=True)
                if t is None:
                    continue
                times.append(t)
                lines.append(shrunk_lines(path))
                failures += replays(fs, a.build, name, framing, path, seed, notes)
        g, b = res["afl"], res["afl-blind"]
        print("| %s | %d/%d | %s | %s | %s | %d/%d | %s |%s" % (
            name, len(g[0]), a.seeds, "%.1f s" % statistics.median(g[0]) if g[0] else "-",
            "%d lines" % max(g[1]) if g[1] else "-",
            statistics.median(g[2]) if g[2] else "-", len(b[0]), a.seeds,
            statistics.median(b[2]) if b[2] else "-", " " + "; ".join(notes) if notes else ""),
            flush=True)
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--only", default="")
    ap.add_argument("--out", default="")
    ap.add_argument("--concurrency", default="",
                    help="framespec fuzz --concurrency (default: framespec's own)")
    ap.add_argument("--jobs", type=int, default=0, help="framespec fuzz --jobs (default 1)")
    ap.add_argument("--coverage", action="store_true",
                    help="the deep mutants, guided by coverage and black-box")
    ap.add_argument("--modes", default="afl,afl-blind",
                    help="with --coverage: the --coverage modes to run (default afl,afl-blind)")
    ap.add_argument("--cov-build", default=os.path.join(ROOT, "build-afl-servers"),
                    help="where ci/coverage-build.sh put the instrumented servers")
    a = ap.parse_args()
    fs = os.path.join(a.build, "bin", "framespec")
    if not os.access(fs, os.X_OK):
        sys.exit("%s: not built (cmake --build %s)" % (fs, a.build))
    only = set(filter(None, a.only.split(",")))
    work = a.out or tempfile.mkdtemp(prefix="fuzz-mutants-")
    if a.coverage:
        failures = coverage_main(a, fs, work)
        if not a.out:
            shutil.rmtree(work, ignore_errors=True)
        return 1 if failures else 0
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
        times, lines, reqs, notes = [], [], [], []
        for seed in range(1, a.seeds + 1):
            t, path, found, err, rc, _ = campaign(a, fs, name, binary, framing, seed, prefixes,
                                                  work, "", [])
            reqs += found
            if rc == 2:
                print(err, file=sys.stderr)
                failures += 1
                continue
            if t is None:
                continue
            times.append(t)
            lines.append(shrunk_lines(path))
            failures += replays(fs, a.build, name, framing, path, seed, notes)
        rows.append((name, group, len(times), a.seeds,
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
