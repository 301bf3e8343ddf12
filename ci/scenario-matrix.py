#!/usr/bin/env python3
"""Run the pytest scenarios (pytest/test_1*.py) against every in-tree mutant server (the list:
target/mutants.txt) and print a markdown table scenario x mutant: X = the scenario fails against
that mutant.

Usage: ci/scenario-matrix.py [--build DIR] [--out FILE.md]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "pytest"))
from mutant_list import mutants  # noqa: E402  (target/mutants.txt, checked as the build does)

MUTANTS = [name for name, _, _ in mutants()]


def run(build, server):
    with tempfile.NamedTemporaryFile(suffix=".xml") as x:
        files = sorted(f for f in os.listdir(os.path.join(ROOT, "pytest"))
                       if f.startswith("test_1") and f.endswith(".py"))
        env = dict(os.environ, FRAMESPEC_BUILD_DIR=build)
        subprocess.run(["/usr/bin/python3", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "--server", server, "--junitxml", x.name, "-o", "junit_family=xunit2",
                        ] + files,
                       cwd=os.path.join(ROOT, "pytest"), env=env, capture_output=True,
                       timeout=1800)
        res = {}
        for tc in ET.parse(x.name).getroot().iter("testcase"):
            name = "%s::%s" % (tc.get("classname").split(".")[-1], tc.get("name"))
            bad = tc.find("failure") is not None or tc.find("error") is not None
            res[name] = "skip" if tc.find("skipped") is not None else ("fail" if bad else "pass")
        return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out")
    a = ap.parse_args()
    missing = [m for m in MUTANTS
               if not os.access(os.path.join(a.build, "bin", "mutant_" + m), os.X_OK)]
    if missing:
        sys.exit("ci/scenario-matrix.py: not built in %s/bin: %s (build first; the list is "
                 "target/mutants.txt)" % (a.build, ", ".join("mutant_" + m for m in missing)))
    results = {}
    for m in MUTANTS:
        results[m] = run(a.build, "mutant_" + m)
        print("%-20s %d failing" % (m, sum(v == "fail" for v in results[m].values())),
              file=sys.stderr)
    tests = sorted({t for r in results.values() for t in r})
    lines = ["| scenario | " + " | ".join(MUTANTS) + " | caught by |",
             "|---|" + "---|" * len(MUTANTS) + "---|"]
    uncaught = []
    for t in tests:
        row = [("X" if results[m].get(t) == "fail" else
                "s" if results[m].get(t) == "skip" else "") for m in MUTANTS]
        n = row.count("X")
        if n == 0:
            uncaught.append(t)
        lines.append("| %s | %s | %d |" % (t, " | ".join(row), n))
    text = "\n".join(lines) + "\n\nX: the scenario fails against that mutant; s: skipped.\n"
    if uncaught:
        text += "\nScenarios no mutant fails: %s\n" % ", ".join(uncaught)
    print(text)
    if a.out:
        open(a.out, "w").write(text)


if __name__ == "__main__":
    main()
