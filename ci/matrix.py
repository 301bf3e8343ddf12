#!/usr/bin/env python3
"""The implementation matrix: run the catalogue against every peer of peers/peers.txt, compare
each verdict with the peer's checked-in expected file, check that the fixed variant passes what
the peer fails, and write the matrix (markdown), the HTML report (framespec report) and, with
--docs, a screenshot of it.

For each peer NAME (peers/NAME/):
  build.sh (when there is one) builds it into build/peers/NAME;
  framespec run --exec 'peers/NAME/run.sh {port} IDLE' --idle-timeout IDLE --repeat N
      --json OUT/NAME.json --label NAME --expect peers/NAME/expected [the words of peers/NAME/args];
  framespec judges each verdict against peers/NAME/expected (--expect): a case not listed must
      pass (or skip when it does not apply); a listed failure must fail (status xfail; a listed
      one that passes is "fixed", a problem here); flaky: any outcome, a note when it passed
      every run this time;
  every case it fails (fail or warn in expected; a flaky one may pass) has its reproducer
      (--repro-dir) replayed alone against the peer three times: each must fail it under the
      requirement id the case reported (pytest/repro_fidelity.py);
  framespec run --exec 'peers/NAME/run.sh {port} IDLE --fixed' --case C... for the cases it
      fails: each must pass every run (the change the README describes works).
Writes OUT/matrix.md, OUT/matrix.html (the peers) and OUT/fixed.html (their --fixed runs); with
--docs FILE and every peer run, FILE (docs/matrix.md) and matrix.png beside it (headless
Chromium; missing Chromium is a problem).
A peer whose toolchain is missing fails the matrix (peers/install.sh NAME installs it): nothing is
skipped in silence.

usage: ci/matrix.py [--peers NAME,...|--ci] [--repeat N] [--idle S] [--out DIR] [--docs FILE]
                    [--build DIR]
Exit status: 0 every verdict as expected; 1 a verdict differs, a fixed variant fails, or a peer
could not be built or run; 2 usage.
"""
import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS = os.path.join(ROOT, "peers")
sys.path.insert(0, os.path.join(ROOT, "pytest"))
from repro_fidelity import replay, replay_options, violated, without_repeat  # noqa: E402

REPLAYS = 3  # each failing case's reproducer must fail its peer this many runs of this many
SYMBOL = {"pass": "✓", "fail": "✗", "warn": "! (SHOULD)", "flaky": "≈", "skip": "–"}


def peers_list():
    """[(name, ci, command, packages, library)] from peers/peers.txt."""
    out = []
    with open(os.path.join(PEERS, "peers.txt"), encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            head, _, library = line.partition("--")
            words = head.split()
            out.append((words[0], words[1] == "yes", words[2], words[3:], library.strip()))
    return out


def read_expected(name):
    """{case id: (verdict, level, why)} from peers/NAME/expected (the format of framespec run
    --expect, which checks it: an unknown id or verdict makes the run exit 2)."""
    exp = {}
    with open(os.path.join(PEERS, name, "expected"), encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.lstrip().startswith("#"):
                w = line.split(None, 3) + ["", "", ""]
                exp[w[0]] = (w[1], w[2], w[3].strip())
    return exp


def run(cmd, log, timeout):
    t0 = time.time()
    with open(log, "w") as f:
        try:
            p = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, timeout=timeout)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            rc = -1
    return rc, time.time() - t0


def check_reproducers(bin_dir, exe, expected, got, repro_dir):
    """Replay, alone, the reproducer of every case the peer fails for sure (fail or warn in its
    expected file), REPLAYS times: each run must fail the peer under the requirement the case
    reported. Returns (problems, [(case, runs failed)])."""
    bad, done = [], []
    for cid, (v, _, _) in sorted(expected.items()):
        c = got.get(cid)
        if v not in ("fail", "warn") or c is None or c["verdict"] not in ("fail", "warn"):
            continue
        path = os.path.join(repro_dir, cid + ".scenario")
        if not os.path.exists(path):
            bad.append("%s: no reproducer written" % cid)
            continue
        opts = without_repeat(replay_options(c["repro_command"] or ""))
        fails = 0
        for _ in range(REPLAYS):
            r = replay(bin_dir, path, exe, opts)
            if r.returncode == 1 and violated(r.stdout) == c["violated"]:
                fails += 1
            else:
                bad.append("%s: its reproducer, replayed alone, exited %d violating %s (the case: "
                           "%s)" % (cid, r.returncode, violated(r.stdout), c["violated"]))
                break
        done.append((cid, fails))
    return bad, done


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--peers", default="", help="comma-separated names (default: all)")
    ap.add_argument("--ci", action="store_true", help="the peers marked CI in peers/peers.txt")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--idle", type=int, default=2, help="the idle timeout given to every peer (s)")
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "matrix"))
    ap.add_argument("--docs", default="", help="also write the markdown matrix here "
                    "(docs/matrix.md; only when every peer ran)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = ap.parse_args()
    fs = os.path.join(a.build, "bin", "framespec")
    if not os.access(fs, os.X_OK):
        print("ci/matrix.py: %s is not built (cmake --build %s)" % (fs, a.build), file=sys.stderr)
        return 2
    allp = peers_list()
    names = [p[0] for p in allp]
    want = [n for n in a.peers.split(",") if n]
    for n in want:
        if n not in names:
            print("ci/matrix.py: no peer '%s' (peers/peers.txt: %s)" % (n, ", ".join(names)),
                  file=sys.stderr)
            return 2
    chosen = [p for p in allp if (not want or p[0] in want) and (not a.ci or p[1])]
    os.makedirs(a.out, exist_ok=True)
    env = dict(os.environ, FRAMESPEC_PEER_BUILD=os.path.join(a.build, "peers"))
    problems, reports, fixed_reports, rows = [], [], [], []
    for name, _, command, packages, library in chosen:
        d = os.path.join(PEERS, name)
        if shutil.which(command) is None:
            problems.append("%s: '%s' is not installed: bash peers/install.sh %s (as root)" %
                            (name, command, name))
            print("== %s: MISSING TOOLCHAIN (%s)" % (name, command), flush=True)
            continue
        expected = read_expected(name)
        if os.path.exists(os.path.join(d, "build.sh")):
            p = subprocess.run(["bash", os.path.join(d, "build.sh"),
                                os.path.join(a.build, "peers", name)], capture_output=True,
                               text=True, env=env, timeout=600)
            if p.returncode != 0:
                problems.append("%s: build.sh failed: %s" % (name, p.stderr.strip()[-2000:]))
                print("== %s: BUILD FAILED\n%s" % (name, p.stderr), flush=True)
                continue
        extra = []
        if os.path.exists(os.path.join(d, "args")):
            with open(os.path.join(d, "args")) as f:
                extra = shlex.split(" ".join(l for l in f if not l.startswith("#")))
        exe = "%s {port} %d" % (shlex.quote(os.path.join(d, "run.sh")), a.idle)
        js = os.path.join(a.out, name + ".json")
        repro_dir = os.path.join(a.out, name + "-repro")
        shutil.rmtree(repro_dir, ignore_errors=True)
        cmd = [fs, "run", "--exec", exe, "--idle-timeout", str(a.idle), "--repeat",
               str(a.repeat), "--json", js, "--label", name, "--timeout", "1500",
               "--repro-dir", repro_dir, "--expect", os.path.join(d, "expected")] + extra
        rc, secs = run(cmd, os.path.join(a.out, name + ".tap"), 1600)
        if rc not in (0, 1) or not os.path.exists(js):
            problems.append("%s: framespec run exited %d (see %s.tap)" % (name, rc, name))
            print("== %s: framespec run exited %d" % (name, rc), flush=True)
            continue
        with open(js) as f:
            rep = json.load(f)
        reports.append("%s=%s" % (name, js))
        got = {c["id"]: c for c in rep["cases"]}
        bad, notes = [], []
        for cid, c in got.items():
            e = expected.get(cid, ("pass", "-", ""))[0]
            if e == "flaky" and c["status"] == "pass":
                notes.append("%s: expected flaky, passed %d of %d runs this time" % (
                    cid, c["runs"], c["runs"]))
            if c["status"] not in ("pass", "skip", "xfail"):
                # framespec's --expect judged it: a new failure, or a listed one that passed
                bad.append("%s: %s in peers/%s/expected, got %s (%d of %d runs failed)%s" % (
                    cid, "listed as " + e if cid in expected else "not listed", name,
                    c["status"], c["failures"], c["runs"],
                    ": " + c["detail"] if c.get("detail") else ""))
        rbad, replayed = check_reproducers(os.path.dirname(fs), exe, expected, got, repro_dir)
        bad += rbad
        if replayed:
            notes.append("reproducers replayed alone: %s" % ", ".join(
                "%s %d/%d" % (cid, k, REPLAYS) for cid, k in replayed))
        failing = [cid for cid, (v, _, _) in expected.items() if v in ("fail", "warn", "flaky")]
        fixed_note = "-"
        if failing:
            fjs = os.path.join(a.out, name + "-fixed.json")
            fcmd = [fs, "run", "--exec", exe + " --fixed", "--idle-timeout", str(a.idle),
                    "--repeat", str(a.repeat), "--json", fjs, "--label", name + " --fixed",
                    "--timeout", "900"] + extra
            for cid in failing:
                fcmd += ["--case", cid]
            frc, _ = run(fcmd, os.path.join(a.out, name + "-fixed.tap"), 1000)
            if os.path.exists(fjs):
                fixed_reports.append("%s --fixed=%s" % (name, fjs))
                with open(fjs) as f:
                    frep = json.load(f)
                still = [c["id"] + " " + c["status"] for c in frep["cases"]
                         if c["status"] not in ("pass",)]
                if still:
                    bad.append("--fixed does not pass: " + ", ".join(still))
                fixed_note = "%d of %d pass" % (len(failing) - len(still), len(failing))
            else:
                bad.append("--fixed: framespec run exited %d" % frc)
        s = verdict_counts(rep)
        rows.append((name, library, s, fixed_note, bad, rep, expected))
        print("== %s: %d passed, %d failed, %d warnings, %d flaky, %d skipped in %.0f s; fixed: %s%s"
              % (name, s["passed"], s["failed"], s["warnings"], s["flaky"], s["skipped"], secs,
                 fixed_note, "" if not bad else "\n   NOT AS EXPECTED:\n   " + "\n   ".join(bad)),
              flush=True)
        for n in notes:
            print("   note: " + n, flush=True)
        problems += ["%s: %s" % (name, b) for b in bad]
    md = markdown(rows, a.repeat, a.idle)
    with open(os.path.join(a.out, "matrix.md"), "w") as f:
        f.write(md)
    full_docs = a.docs and len(rows) == len(allp) and not want and not a.ci
    if full_docs:
        with open(a.docs, "w") as f:
            f.write(md)
    elif a.docs:
        print("ci/matrix.py: --docs %s not written: only %d of %d peers ran" %
              (a.docs, len(rows), len(allp)), file=sys.stderr)
    if fixed_reports:
        # the --fixed runs (only the cases each peer fails) on a page of their own
        p = subprocess.run([fs, "report", os.path.join(a.out, "fixed.html")] + fixed_reports +
                           ["--title", "framespec: the peers' --fixed variants"])
        if p.returncode != 0:
            problems.append("framespec report (fixed.html) exited %d" % p.returncode)
    if reports:
        p = subprocess.run([fs, "report", os.path.join(a.out, "matrix.html")] + reports +
                           ["--title", "framespec: the implementation matrix"])
        if p.returncode != 0:
            problems.append("framespec report exited %d" % p.returncode)
        elif full_docs:
            problems += screenshot(os.path.join(a.out, "matrix.html"),
                                   os.path.join(os.path.dirname(a.docs), "matrix.png"))
    print()
    if problems:
        print("ci/matrix.py: %d problem(s):\n  %s" % (len(problems), "\n  ".join(problems)))
        return 1
    print("ci/matrix.py: %d peers, every verdict as expected (%d runs each); %s/matrix.html" %
          (len(rows), a.repeat, a.out))
    return 0


def screenshot(html, png):
    """Headless Chromium's picture of the HTML page (docs/matrix.png, next to docs/matrix.md);
    returns a list of problems (no Chromium is one: --docs promises the picture)."""
    browser = next(filter(None, map(shutil.which, ("chromium", "chromium-browser",
                                                   "google-chrome"))), None)
    if browser is None:
        return ["--docs: chromium is not installed, so %s was not taken (apt-get install chromium)"
                % png]
    prof = os.path.join(os.path.dirname(html), "chromium-profile")
    try:
        p = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                            "--disable-dev-shm-usage", "--no-first-run", "--user-data-dir=" + prof,
                            "--hide-scrollbars", "--window-size=1600,1100",
                            "--screenshot=" + os.path.abspath(png),
                            "file://" + os.path.abspath(html)],
                           capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return ["--docs: chromium took more than 120 s to take %s" % png]
    if p.returncode != 0 or not os.path.exists(png) or os.path.getsize(png) < 10000:
        return ["--docs: chromium did not write %s: %s" % (png, p.stderr[-500:])]
    print("ci/matrix.py: wrote %s" % png)
    return []


def verdict_counts(rep):
    """{passed, failed, warnings, flaky, skipped} of a report by verdict (an expected failure
    counted as what it was, not as "expected")."""
    keys = {"pass": "passed", "fail": "failed", "warn": "warnings", "flaky": "flaky",
            "skip": "skipped"}
    out = dict((k, 0) for k in keys.values())
    for c in rep["cases"]:
        out[keys[c["verdict"]]] += 1
    return out


def markdown(rows, repeat, idle):
    out = ["# The implementation matrix", "",
           "Generated by `ci/matrix.sh` (`ci/matrix.py`): `framespec run --repeat %d "
           "--idle-timeout %d` against each peer in `peers/`, each written the way its library's "
           "docs and examples write an echo server. Every failure is explained, with the library's "
           "documentation or source, in `peers/NAME/README.md`, and `run.sh --fixed` applies the "
           "change it recommends (column *fixed*: those cases, run again)." % (repeat, idle), "",
           "| peer | library | passed | failed | warnings | flaky | skipped | fixed |",
           "|---|---|---|---|---|---|---|---|"]
    for name, library, _, fixed, _, rep, _ in rows:
        s = verdict_counts(rep)
        out.append("| [%s](../peers/%s/README.md) | %s | %d | %d | %d | %d | %d | %s |" % (
            name, name, library, s["passed"], s["failed"], s["warnings"], s["flaky"],
            s["skipped"], fixed))
    out += ["", "Cases that do not pass everywhere (✓ pass, ✗ fail, ! SHOULD warning, ≈ flaky, "
            "– skipped):", ""]
    ids = []
    for r in rows:
        for c in r[5]["cases"]:
            if c["id"] not in ids:
                ids.append(c["id"])
    interesting = [cid for cid in ids
                   if any(next((c["verdict"] for c in r[5]["cases"] if c["id"] == cid), "pass")
                          not in ("pass", "skip") or cid in r[6] for r in rows)]
    out.append("| case | " + " | ".join(r[0] for r in rows) + " |")
    out.append("|---|" + "---|" * len(rows))
    for cid in interesting:
        cells = []
        for r in rows:
            c = next((c for c in r[5]["cases"] if c["id"] == cid), None)
            if c is None:
                cells.append("")
                continue
            v = c["verdict"]  # the verdict, whatever peers/NAME/expected made of it
            sym = SYMBOL[v]
            if v in ("flaky",) or (v in ("fail", "warn") and c["runs"] > 1
                                   and c["failures"] < c["runs"]):
                sym += " %d/%d" % (c["failures"], c["runs"])
            if v == "pass" and r[6].get(cid, ("pass",))[0] == "flaky":
                sym += " 0/%d (flaky)" % c["runs"]
            if v != "pass" or cid in r[6]:
                sym = "[%s](../peers/%s/README.md)" % (sym, r[0])
            cells.append(sym)
        out.append("| `%s` | %s |" % (cid, " | ".join(cells)))
    out += ["", "Every other case passes (or skips: it does not apply) for every peer. Each cell "
            "links to the peer's README, where the library's docs or source explain it; "
            "\"0/3 (flaky)\" is a timing-dependent failure that did not happen in this run.", ""]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
