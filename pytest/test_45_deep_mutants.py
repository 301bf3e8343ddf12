"""The deep mutants' teeth test, which is the fuzzer's (target/mutants.txt, group coverage):
`framespec fuzz --coverage afl` against each, built with afl-clang-fast (ci/coverage-build.sh),
finds its bug, shrinks it to a short scenario confirmed 3 of 3, and the finding replays on the
plain build: it fails the mutant and passes echod. No case group catches these mutants (they are
baseline_echod but for a bug behind a sequence of states), and black-box generation almost never
reaches them (docs/fuzzing.md, "Coverage guidance", has the side-by-side figures).

The plain build only (pytest/CMakeLists.txt): it is a claim about how soon guidance finds them."""
import os
import re
import subprocess

import pytest

SCALE = os.environ.get("FRAMESPEC_TIMEOUT_SCALE", "1")
# every requirement group: the first confirmed finding, whatever it cites, is the planted bug
ANY_REQ = "FRAMING-,SEGMENTATION-,LIMITS-,HALFCLOSE-,RESET-,IDLE-,BACKPRESSURE-,CONCURRENCY-," \
          "RESOURCES-,LIFECYCLE-,LATENCY-,DEADPEER-"
SECONDS = 240


def server(binary):
    return "%s --listen 127.0.0.1:{port} --max-frame 65536" % binary


@pytest.mark.parametrize("mutant", ["deep_lengths", "deep_split"])
def test_guidance_finds_the_deep_mutant_and_the_finding_replays(bin_dir, afl_bin, tmp_path,
                                                                mutant):
    fs = os.path.join(bin_dir, "framespec")
    p = subprocess.run([fs, "fuzz", "--exec", server(os.path.join(afl_bin, "mutant_" + mutant)),
                        "--max-frame", "65536", "--coverage", "afl", "--jobs", "2",
                        "--seconds", str(SECONDS), "--until", ANY_REQ, "--out", str(tmp_path),
                        "--timeout-scale", SCALE],
                       capture_output=True, text=True, timeout=SECONDS + 300)
    # exit 1, or 0 when the first confirmed finding cites a SHOULD (the mutant's close seen as
    # the echoes owed before an oversized header, LIMITS-4): --until stops at it either way
    assert p.returncode in (0, 1), p.stdout + p.stderr[-3000:]
    confirmed = [f for f in re.findall(r"s: finding: (\S+)$", p.stderr, re.M)]
    assert confirmed, "no confirmed finding in %d s:\n%s" % (SECONDS, p.stderr[-3000:])
    path = confirmed[0]
    text = open(path).read()
    assert "in 3 of 3 replays" in text, text
    steps = [l for l in text.splitlines() if l.strip() and not l.startswith("#")]
    assert len(steps) <= 12, text
    for binary, want in (("mutant_" + mutant, 1), ("echod", 0)):
        r = subprocess.run([fs, "replay", path, "--max-frame", "65537", "--exec",
                            server(os.path.join(bin_dir, binary))],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == want, (binary, r.stdout, r.stderr)
