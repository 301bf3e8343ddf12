"""Black-box tests of the framespec CLI: exit codes, TAP, JUnit, JSON, case selection, list."""
import json
import os
import re
import socket
import subprocess
import xml.etree.ElementTree as ET

import pytest


def framespec(bin_dir, *args, timeout=300):
    return subprocess.run([os.path.join(bin_dir, "framespec")] + list(args), capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def echod_addr(make_target):
    return make_target(idle=1).addr


def exec_arg(bin_dir, binary="echod"):
    return "%s --listen 127.0.0.1:{port} --idle-timeout 1" % os.path.join(bin_dir, binary)


def test_exit_0_tap_and_summary_line(bin_dir, echod_addr):
    p = framespec(bin_dir, "run", "--target", echod_addr, "--case", "framing.*", "--case",
                  "halfclose.at_boundary", "--seed", "7")
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "TAP version 14"
    assert lines[1] == "1..6"
    oks = [l for l in lines if re.match(r"^(not )?ok \d+ - ", l)]
    assert len(oks) == 6
    assert "ok 5 - framing.line_terminator # SKIP only for line framing" in lines
    assert lines[-1] == "5 passed, 0 failed, 0 warnings, 0 flaky, 1 skipped"
    assert "seed 7" in p.stdout


def test_exit_1_with_yaml_diagnostics_junit_and_json(bin_dir, tmp_path):
    junit, js = tmp_path / "r.xml", tmp_path / "r.json"
    p = framespec(bin_dir, "run", "--exec", exec_arg(bin_dir, "mutant_close_on_zero"),
                  "--case", "framing.*", "--junit", str(junit), "--json", str(js), "--seed", "3")
    assert p.returncode == 1, p.stdout + p.stderr
    assert "not ok 3 - framing.zero_length" in p.stdout
    assert "  ---\n  message: " in p.stdout and "  requirements: [FRAMING-2]" in p.stdout
    assert "  seed: 3" in p.stdout and "  ...\n" in p.stdout
    root = ET.parse(junit).getroot()
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == 5 and suite.get("tests") == "5"
    failures = [c for c in cases if c.find("failure") is not None]
    skipped = [c for c in cases if c.find("skipped") is not None]
    assert int(suite.get("failures")) == len(failures) >= 1
    assert int(suite.get("skipped")) == len(skipped) == 1
    assert {c.get("classname") for c in cases} == {"framespec.framing"}
    rep = json.loads(js.read_text())
    assert set(rep["summary"]) >= {"passed", "failed", "skipped"}
    assert rep["summary"]["failed"] == len(failures)
    for c in rep["cases"]:
        assert set(c) >= {"id", "requirements", "level", "status", "runs", "failures",
                          "duration_ms", "detail", "repro"}
        assert c["status"] in ("pass", "fail", "skip")
        assert c["level"] == "MUST"
        assert isinstance(c["requirements"], list) and c["requirements"]
        assert re.match(r"^[a-z]+\.[a-z_]+$", c["id"])
    bad = [c for c in rep["cases"] if c["status"] == "fail"]
    assert all(c["detail"] for c in bad)


def test_exit_2_on_usage_errors(bin_dir):
    for args in (["run"], ["run", "--target", "127.0.0.1:1", "--framing", "3"],
                 ["run", "--target", "127.0.0.1:1", "--timeout-scale", "x"],
                 ["run", "--bogus"], ["nonsense"], ["run", "--exec", "true"]):
        p = framespec(bin_dir, *args)
        assert p.returncode == 2, (args, p.stdout, p.stderr)
        assert p.stderr.strip(), args


def test_exit_2_when_target_unreachable(bin_dir):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connection refused
        p = framespec(bin_dir, "run", "--target", "127.0.0.1:%d" % port)
    assert p.returncode == 2
    assert "ECONNREFUSED" in p.stderr


def test_case_and_exclude_select(bin_dir, echod_addr):
    p = framespec(bin_dir, "run", "--target", echod_addr, "--case", "reset", "--exclude",
                  "reset.burst", "--exclude", "reset.echoes_*", "--exclude", "reset.fin_*")
    assert p.returncode == 0, p.stdout
    ids = re.findall(r"^ok \d+ - (\S+)", p.stdout, re.M)
    assert ids == ["reset.mid_header", "reset.mid_payload", "reset.echo_pending"]
    p = framespec(bin_dir, "run", "--target", echod_addr, "--case", "no.such.case")
    assert p.returncode == 2


def test_list(bin_dir):
    p = framespec(bin_dir, "list")
    assert p.returncode == 0
    rows = [l.split(None, 3) for l in p.stdout.splitlines()]
    assert len(rows) >= 30
    assert all(len(r) == 4 and "." in r[0] and r[1] in ("MUST", "SHOULD") and
               re.match(r"[A-Z]+-\d", r[2]) for r in rows)


def test_exec_server_death_is_reported_and_restarted(bin_dir):
    p = framespec(bin_dir, "run", "--exec", exec_arg(bin_dir, "mutant_sigpipe"), "--case",
                  "reset.fin_before_echoes", "--case", "reset.burst", "--case",
                  "resources.alive")
    assert p.returncode == 1
    assert "killed by signal 13 (SIGPIPE)" in p.stdout
    assert "restarted" in p.stdout
    assert "\nok 2 - reset.burst" in p.stdout  # the run stays meaningful after the restart
    assert "not ok 3 - resources.alive" in p.stdout


def test_never_hangs_on_a_server_that_never_answers(bin_dir, tmp_path):
    script = tmp_path / "blackhole.py"
    script.write_text(
        "import socket,sys,time\n"
        "s=socket.socket();s.bind(('127.0.0.1',int(sys.argv[1])));s.listen(64)\n"
        "c=[];end=time.time()+120\n"
        "while time.time()<end: c.append(s.accept()[0])\n")
    p = framespec(bin_dir, "run", "--exec", "python3 %s {port}" % script, "--case",
                  "framing.single", "--case", "halfclose.at_boundary", timeout=120)
    assert p.returncode == 1
    assert p.stdout.splitlines()[-1] == "0 passed, 2 failed, 0 warnings, 0 flaky, 0 skipped"
