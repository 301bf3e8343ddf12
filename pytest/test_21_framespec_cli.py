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


FLAKY_SERVER = """\
# An echo server ({packet,4}) that garbles the echo on every second connection that sends data:
# a deterministic 'flaky' server for --repeat.
import socket, struct, sys, threading
lock = threading.Lock()
count = [0]
def serve(c):
    with c:
        hdr = b""
        while len(hdr) < 4:
            b = c.recv(4 - len(hdr))
            if not b:
                return
            hdr += b
        n = struct.unpack(">I", hdr)[0]
        data = b""
        while len(data) < n:
            b = c.recv(n - len(data))
            if not b:
                return
            data += b
        with lock:
            count[0] += 1
            bad = count[0] % 2 == 0
        c.sendall(hdr + (data[:-1] + b"?" if bad and data else data))
        while c.recv(65536):
            pass
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
while True:
    threading.Thread(target=serve, args=(s.accept()[0],), daemon=True).start()
"""


def test_repeat_reports_a_flaky_must_case_and_fails(bin_dir, tmp_path):
    script = tmp_path / "flaky.py"
    script.write_text(FLAKY_SERVER)
    js, xml = tmp_path / "r.json", tmp_path / "r.xml"
    p = framespec(bin_dir, "run", "--exec", "python3 %s {port}" % script, "--case",
                  "framing.single", "--repeat", "4", "--json", str(js), "--junit", str(xml))
    assert p.returncode == 1, p.stdout + p.stderr  # a flaky MUST case fails the gate
    assert "not ok 1 - framing.single\n" in p.stdout
    assert "flaky: failed 2 of 4 runs (runs 2, 4); first failure: " in p.stdout
    assert "  runs: 4\n  failures: 2\n  failed_runs: [2, 4]\n" in p.stdout
    assert "repro: |" in p.stdout  # the first failing run's reproducer
    assert p.stdout.splitlines()[-1] == "0 passed, 0 failed, 0 warnings, 1 flaky, 0 skipped"
    (c,) = json.loads(js.read_text())["cases"]
    assert (c["status"], c["runs"], c["failures"], c["failed_runs"]) == ("flaky", 4, 2, [2, 4])
    assert c["fails_gate"] and c["repro"] and "an echo that differs" in c["detail"]
    failure = ET.parse(xml).getroot().find("testsuite/testcase/failure")
    assert failure is not None and failure.get("type") == "flaky"
    assert "failed 2 of 4 runs" in failure.get("message")
    assert "reproducer (first failing run):\n# framespec reproducer for framing.single" in \
        failure.text


def test_repeat_runs_each_case_n_times_against_one_server(bin_dir, tmp_path):
    starts = tmp_path / "starts"
    cmd = "sh -c 'echo started >> %s; exec %s --listen 127.0.0.1:$0' {port}" % (
        starts, os.path.join(bin_dir, "echod"))
    p = framespec(bin_dir, "run", "--exec", cmd, "--case", "framing.*", "--case",
                  "halfclose.at_boundary", "--repeat", "3", "--json", str(tmp_path / "r.json"))
    assert p.returncode == 0, p.stdout + p.stderr
    assert starts.read_text().count("started") == 1
    rep = json.loads((tmp_path / "r.json").read_text())
    runs = {c["id"]: (c["runs"], c["failures"]) for c in rep["cases"]}
    assert runs["halfclose.at_boundary"] == (3, 0)
    assert runs["framing.line_terminator"] == (0, 0)  # skipped: does not apply, not run 3 times
    assert rep["summary"]["repeat"] == 3


def test_a_failing_should_case_warns_and_strict_fails_it(bin_dir, tmp_path):
    js, xml = tmp_path / "r.json", tmp_path / "r.xml"
    args = ["run", "--exec", exec_arg(bin_dir, "mutant_unbounded"), "--case", "backpressure.rss",
            "--json", str(js), "--junit", str(xml)]
    p = framespec(bin_dir, *args)
    assert p.returncode == 0, p.stdout + p.stderr  # a warning does not fail the gate
    assert re.search(r"^not ok 1 - backpressure\.rss # TODO SHOULD: BACKPRESSURE-4: "
                     r".*memory grew by \d+ MiB",
                     p.stdout, re.M), p.stdout
    assert "  level: SHOULD\n" in p.stdout
    assert p.stdout.splitlines()[-1] == "0 passed, 0 failed, 1 warnings, 0 flaky, 0 skipped"
    (c,) = json.loads(js.read_text())["cases"]
    assert (c["status"], c["level"], c["fails_gate"]) == ("warn", "SHOULD", False)
    suite = ET.parse(xml).getroot().find("testsuite")
    case = suite.find("testcase")
    assert case.find("failure") is None and suite.get("failures") == "0"
    assert "WARNING (SHOULD" in case.find("system-out").text
    assert {p.get("name"): p.get("value") for p in suite.find("properties")}["warnings"] == "1"
    strict = framespec(bin_dir, *(args + ["--strict"]))
    assert strict.returncode == 1, strict.stdout
    assert "not ok 1 - backpressure.rss\n" in strict.stdout
    assert json.loads(js.read_text())["cases"][0]["status"] == "fail"


def test_the_first_close_observed_wins(bin_dir, tmp_path):
    """A server that answers an oversized header with half the earlier echoes and an RST: our
    send() of more payload sees ECONNRESET, and a recv() after it returns 0 (Linux reports the
    reset once). The close kind is RST, not FIN."""
    script = tmp_path / "rst.py"
    script.write_text(
        "import socket,struct,sys\n"
        "def exact(c,n):\n"
        "  b=b''\n"
        "  while len(b)<n:\n"
        "    x=c.recv(n-len(b))\n"
        "    if not x: return None\n"
        "    b+=x\n"
        "  return b\n"
        "s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
        "s.bind(('127.0.0.1',int(sys.argv[1])));s.listen(8)\n"
        "while True:\n"
        "  c=s.accept()[0];echoes=[]\n"
        "  while True:\n"
        "    h=exact(c,4)\n"
        "    if h is None: c.close();break\n"
        "    n=struct.unpack('>I',h)[0]\n"
        "    if n>16<<20:\n"
        "      c.sendall(b''.join(echoes[:len(echoes)//2]))\n"
        "      c.setsockopt(socket.SOL_SOCKET,socket.SO_LINGER,struct.pack('ii',1,0));c.close()\n"
        "      break\n"
        "    echoes.append(h+exact(c,n))\n")
    js = tmp_path / "r.json"
    p = framespec(bin_dir, "run", "--exec", "python3 %s {port}" % script, "--case",
                  "limits.echoes_first", "--json", str(js), "-v")
    (c,) = json.loads(js.read_text())["cases"]
    assert c["status"] == "warn", c
    assert c["close"] == "RST", (c, p.stderr[-3000:])
    assert "then RST" in c["actual"]
