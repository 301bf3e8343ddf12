"""echod passes the whole suite under every framing (docs/spec.md, Framings): Erlang's, the other
length-field sizes and byte orders, preambles, header-inclusive lengths, whole-frame limits and
varints, each with a maximum below what its header holds, so that every limits case applies.

The sanitizer build runs a few of them (the harness's framing code under ASan/UBSan); the plain
build runs them all."""
import json
import os
import subprocess

import pytest

# framing -> --max-frame given to both echod and framespec
FRAMINGS = {
    "raw": "1M", "1": "200", "2": "60000", "4": "1M", "line": "1M",
    "u24": "1M", "u64": "1M", "u16le": "60000", "u24le": "1M", "u32le": "1M", "u64le": "1M",
    "varint": "1M", "varint,limit=frame": "1M", "varint,offset=3,adjust=-3": "1M",
    "4,adjust=-4": "1M", "4,limit=frame": "1M", "2,adjust=-2,limit=frame": "60000",
    "u32le,offset=2,adjust=-6,limit=frame": "1M",
}
SANITIZED_SUBSET = ["u64le", "varint,offset=3,adjust=-3", "u32le,offset=2,adjust=-6,limit=frame"]


def selected():
    if os.environ.get("FRAMESPEC_SANITIZED") == "1":
        return SANITIZED_SUBSET
    return list(FRAMINGS)


@pytest.mark.parametrize("framing", selected())
def test_echod_passes_the_whole_suite(bin_dir, tmp_path, framing):
    report = tmp_path / "report.json"
    mx = FRAMINGS[framing]
    cmd = [os.path.join(bin_dir, "framespec"), "run", "--framing", framing, "--max-frame", mx,
           "--exec", "%s --listen 127.0.0.1:{port} --idle-timeout 1 --framing '%s' --max-frame %s"
           % (os.path.join(bin_dir, "echod"), framing, mx),
           "--idle-timeout", "1", "--strict", "--json", str(report),
           "--timeout-scale", os.environ.get("FRAMESPEC_TIMEOUT_SCALE", "1")]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    rep = json.loads(report.read_text())
    s = rep["summary"]
    bad = [(c["id"], c["status"], c["detail"]) for c in rep["cases"]
           if c["status"] not in ("pass", "skip")]
    print("%-40s max %-6s %2d passed, %d failed, %d warnings, %d skipped" % (
        framing, mx, s["passed"], s["failed"], s["warnings"], s["skipped"]))
    assert p.returncode == 0 and not bad, (bad, p.stdout[-3000:], p.stderr[-3000:])
    assert rep["framing"] == framing or framing in ("raw",), rep["framing"]
    status = {c["id"]: c for c in rep["cases"]}
    # with its maximum: every limits case that the framing's kind allows ran
    for cid in ("limits.exact_max", "limits.over_max", "limits.echoes_first",
                "limits.others_served"):
        if framing != "raw":
            assert status[cid]["status"] == "pass", (cid, status[cid])
    if "varint" in framing:
        assert status["limits.varint_overlong"]["status"] == "pass"
        assert status["limits.varint_overflow"]["status"] == "pass"
    if "adjust=" in framing:
        assert status["limits.short_length"]["status"] == "pass"
    assert s["passed"] >= (28 if framing == "raw" else 40), s


def test_a_bad_framing_exits_2_naming_the_parameter(bin_dir):
    for prog in ("echod", "baseline_echod"):
        for spec, names in (("len=5", "len:"), ("4,adjust=3", "adjust:"), ("4,offset=99", "offset:"),
                            ("varint,le", "le:"), ("4,limit=payloads", "limit:"),
                            ("raw,offset=1", "raw takes no parameters")):
            p = subprocess.run([os.path.join(bin_dir, prog), "--framing", spec],
                               capture_output=True, text=True, timeout=10)
            assert p.returncode == 2 and names in p.stderr, (prog, spec, p.stderr)
    for sub in ("run", "fuzz", "bench"):
        p = subprocess.run([os.path.join(bin_dir, "framespec"), sub, "--framing", "u32le,adjust=+9",
                            "--target", "127.0.0.1:1"], capture_output=True, text=True, timeout=10)
        assert p.returncode == 2 and "adjust:" in p.stderr, (sub, p.stderr)
    p = subprocess.run([os.path.join(bin_dir, "echod"), "--framing", "4,limit=frame",
                        "--max-frame", "4"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "--max-frame 4 leaves no room" in p.stderr, p.stderr
