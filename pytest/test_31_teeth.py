"""Each case added for a bug class has teeth: it fails its mutant in every one of N runs
(--repeat N, default 10; FRAMESPEC_TEETH_RUNS) and passes echod and baseline_echod in every run.
--repeat runs a case N times against one server, so a verdict that depends on timing shows as
flaky here instead of passing by luck."""
import json
import os
import subprocess

import pytest

from mutant_list import mutant_framing

RUNS = int(os.environ.get("FRAMESPEC_TEETH_RUNS", "10"))

# case -> the mutant with its bug class (run under the mutant's framing: target/mutants.txt)
TEETH = {
    "limits.over_max": "off_by_header",
    "limits.varint_overlong": "varint_eleven",
    "limits.varint_overflow": "varint_eleven",
    "limits.short_length": "adjust_sign",
    "framing.single": "adjust_sign",
    "reset.fin_before_echoes": "sigpipe",
    "halfclose.queued_echoes": "eof_drops_queue",
    "backpressure.rss": "unbounded",
    "lifecycle.restart_same_port": "no_reuseaddr",
    "lifecycle.sigterm_flush": "sigterm_exit",
}


def repeat(bin_dir, tmp_path, server, case):
    report = tmp_path / ("%s-%s.json" % (server, case))
    framing = mutant_framing(TEETH[case])
    cmd = [os.path.join(bin_dir, "framespec"), "run", "--framing", framing, "--exec",
           "%s --listen 127.0.0.1:{port} --framing '%s'" % (os.path.join(bin_dir, server), framing),
           "--timeout-scale", os.environ.get("FRAMESPEC_TIMEOUT_SCALE", "1"),
           "--case", case, "--repeat", str(RUNS), "--json", str(report)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60 * RUNS + 120)
    rep = json.loads(report.read_text())
    (c,) = rep["cases"]
    print("%-28s %-22s %-14s %2d of %2d runs failed: %s" % (case, server, framing, c["failures"],
                                                            c["runs"], c["status"]))
    return p, c


@pytest.mark.parametrize("case,mutant", sorted(TEETH.items()))
def test_case_fails_its_mutant_every_run(bin_dir, tmp_path, case, mutant):
    p, c = repeat(bin_dir, tmp_path, "mutant_" + mutant, case)
    assert (c["runs"], c["failures"]) == (RUNS, RUNS), (c["detail"], p.stdout[-2000:])
    assert c["status"] in ("fail", "warn")


@pytest.mark.parametrize("server", ["echod", "baseline_echod"])
@pytest.mark.parametrize("case", sorted(TEETH))
def test_case_passes_bug_free_servers_every_run(bin_dir, tmp_path, server, case):
    p, c = repeat(bin_dir, tmp_path, server, case)
    assert (c["runs"], c["failures"], c["status"]) == (RUNS, 0, "pass"), (c["detail"],
                                                                          p.stdout[-2000:])
