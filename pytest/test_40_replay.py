"""framespec replay: the docs/scenarios bug classes, reproducers of failing cases, script errors."""
import glob
import json
import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENARIOS = sorted(glob.glob(os.path.join(ROOT, "docs", "scenarios", "*.scenario")))


def replay(bin_dir, path, server, *extra, timeout=120):
    cmd = [os.path.join(bin_dir, "framespec"), "replay", path, "--exec",
           "%s --listen 127.0.0.1:{port}" % os.path.join(bin_dir, server)] + list(extra)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def mutant_of(path):
    m = re.search(r"^# mutant: (\w+)$", open(path).read(), re.M)
    assert m, "%s names no '# mutant:'" % path
    return m.group(1)


@pytest.mark.parametrize("path", SCENARIOS, ids=[os.path.basename(p) for p in SCENARIOS])
def test_scenario_passes_against_echod(bin_dir, path):
    p = replay(bin_dir, path, "echod")
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.startswith("ok: ")


@pytest.mark.parametrize("path", SCENARIOS, ids=[os.path.basename(p) for p in SCENARIOS])
def test_scenario_fails_against_its_mutant(bin_dir, path):
    p = replay(bin_dir, path, "mutant_" + mutant_of(path))
    assert p.returncode == 1, p.stdout + p.stderr
    assert re.search(r"^FAIL .*:\d+: .*\n  expected: .*\n  actual: ", p.stdout, re.M), p.stdout


def test_a_printed_reproducer_fails_the_same_way_alone(bin_dir, tmp_path):
    js = tmp_path / "r.json"
    p = subprocess.run([os.path.join(bin_dir, "framespec"), "run", "--exec",
                        "%s --listen 127.0.0.1:{port}" % os.path.join(bin_dir, "mutant_rst_close"),
                        "--case", "halfclose.at_boundary", "--repro-dir", str(tmp_path),
                        "--json", str(js)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 1
    case = json.loads(js.read_text())["cases"][0]
    assert case["repro"].startswith("# framespec reproducer for halfclose.at_boundary")
    assert "repro: |" in p.stdout and "framespec replay" in p.stdout
    path = str(tmp_path / "halfclose.at_boundary.scenario")
    assert open(path).read() == case["repro"]
    again = replay(bin_dir, path, "mutant_rst_close")
    assert again.returncode == 1, again.stdout
    assert "RST" in again.stdout
    assert replay(bin_dir, path, "echod").returncode == 0


@pytest.mark.parametrize("text,where", [
    ("framing 5\n", "1:9"),
    ("connect\nsend frame \"unterminated\n", "2:12"),
    ("connect\nsend frame hex:abc\n", "2:12"),
    ("connect\nexpect eof\n", "2:"),
    ("connect\nfly away\n", "2:5"),
    ("c2 send frame \"x\"\n", "1:1"),
])
def test_script_errors_exit_2_with_line_and_column(bin_dir, tmp_path, text, where):
    f = tmp_path / "bad.scenario"
    f.write_text(text)
    p = replay(bin_dir, str(f), "echod")
    assert p.returncode == 2, p.stdout + p.stderr
    assert ("bad.scenario:%s" % where) in p.stderr, p.stderr


def test_pcap_capture_or_clear_message(bin_dir, tmp_path):
    pcap = tmp_path / "out.pcap"
    path = os.path.join(ROOT, "docs", "scenarios", "rst-instead-of-fin.scenario")
    p = replay(bin_dir, path, "echod", "--pcap", str(pcap))
    assert p.returncode == 0, p.stdout + p.stderr
    if shutil.which("tcpdump") or shutil.which("tshark"):
        if "could not capture" in p.stderr:
            pytest.skip("capture not permitted here: %s" % p.stderr.strip())
        assert pcap.exists() and pcap.stat().st_size > 24, p.stderr
    else:
        assert "needs tcpdump or tshark" in p.stderr
