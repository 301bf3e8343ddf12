"""framespec run --expect FILE / --write-expect FILE (harness/expect.h), and the JUnit file as
CI systems read it: Debian's python3-junitparser and an npm reader (junit2json, the JUnit-to-JSON
converter on npm) must count tests, failures, errors and skipped as the JSON summary does, for
every verdict (pass, fail, warn, flaky, xfail, fixed, skip) and for a hostile server whose bytes,
label and command hold < & " ]]> and bytes that are not UTF-8."""
import json
import os
import re
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HOSTILE = os.path.join(HERE, "hostile.py")
JUNIT2JSON = "junit2json@4.0.0"


def server(bin_dir, name, *extra):
    return "%s --listen 127.0.0.1:{port} %s" % (os.path.join(bin_dir, name), " ".join(extra))


def hostile(mode):
    return "/usr/bin/python3 %s %s {port} --lifetime 120" % (HOSTILE, mode)


def run(bin_dir, d, name, exec_cmd, *args):
    """framespec run with --junit d/name.xml --json d/name.json; returns (process, report)."""
    xml, js = os.path.join(d, name + ".xml"), os.path.join(d, name + ".json")
    p = subprocess.run([os.path.join(bin_dir, "framespec"), "run", "--exec", exec_cmd, "--junit",
                        xml, "--json", js] + list(args), capture_output=True, timeout=600)
    p.stdout = p.stdout.decode("utf-8", "replace")
    p.stderr = p.stderr.decode("utf-8", "replace")
    rep = json.load(open(js)) if os.path.getsize(js) else None
    return p, rep


@pytest.fixture(scope="module")
def npm_reader(tmp_path_factory):
    """junit2json, installed from the npm registry once per session into the build directory
    (CI's machine reaches it; no npm is a failure, not a skip: the test would check nothing)."""
    build = os.environ.get("FRAMESPEC_BUILD_DIR", os.path.join(ROOT, "build"))
    prefix = os.path.join(build, "npm-junit")
    cli = os.path.join(prefix, "node_modules", ".bin", "junit2json")
    if not os.path.exists(cli):
        p = subprocess.run(["npm", "install", "--prefix", prefix, "--no-audit", "--no-fund",
                            JUNIT2JSON], capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, "npm install %s: %s" % (JUNIT2JSON, p.stderr[-2000:])
    return cli


def junitparser_counts(xml):
    code = ("import json, sys\nfrom junitparser import JUnitXml\nx = JUnitXml.fromfile(sys.argv[1])\n"
            "cases = {}\nfor s in x:\n    for c in s:\n"
            "        cases[c.name] = [type(r).__name__ for r in c.result]\n"
            "print(json.dumps({'tests': x.tests, 'failures': x.failures, 'errors': x.errors, "
            "'skipped': x.skipped, 'cases': cases}))\n")
    p = subprocess.run(["/usr/bin/python3", "-c", code, xml], capture_output=True, text=True)
    assert p.returncode == 0, "junitparser cannot read %s: %s" % (xml, p.stderr[-1500:])
    return json.loads(p.stdout)


def npm_counts(cli, xml):
    p = subprocess.run([cli, xml], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, "junit2json cannot read %s: %s" % (xml, p.stderr[-1500:])
    top = json.loads(p.stdout)
    cases = {}
    for s in top["testsuite"]:
        for c in s.get("testcase", []):
            cases[c["name"]] = [k for k in ("failure", "error", "skipped") if k in c]
    return {k: int(top[k]) for k in ("tests", "failures", "errors", "skipped")}, cases


def consumers_agree(npm_cli, xml, rep):
    """Both readers count what the JSON report says: tests = total, failures = the cases that
    fail the gate, skipped = skips and expected failures, errors 0; and each test case carries
    the element its status calls for."""
    s = rep["summary"]
    gate = sum(1 for c in rep["cases"] if c["fails_gate"])
    want = {"tests": s["total"], "failures": gate, "errors": 0,
            "skipped": s["skipped"] + s.get("expected", 0)}
    jp = junitparser_counts(xml)
    assert {k: jp[k] for k in want} == want, (jp, want)
    counts, cases = npm_counts(npm_cli, xml)
    assert counts == want, (counts, want)
    for c in rep["cases"]:
        element = ("failure" if c["fails_gate"] else
                   "skipped" if c["status"] in ("skip", "xfail") else None)
        assert cases[c["id"]] == ([element] if element else []), (c["id"], c["status"])
        assert jp["cases"][c["id"]] == ([element.capitalize()] if element else []), c["id"]


def write_file(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def test_write_expect_then_expect_turns_known_failures_into_expected_ones(bin_dir, tmp_path,
                                                                            npm_reader):
    d = str(tmp_path)
    exp = os.path.join(d, "server.expect")
    mut = server(bin_dir, "mutant_rst_close")
    cases = ["--case", "framing.single", "--case", "halfclose.at_boundary", "--case",
             "halfclose.mid_frame"]
    p, rep = run(bin_dir, d, "first", mut, "--write-expect", exp, *cases)
    assert p.returncode == 1, p.stdout
    listed = [l.split() for l in open(exp) if l.strip() and not l.startswith("#")]
    assert sorted(l[0] for l in listed) == ["halfclose.at_boundary", "halfclose.mid_frame"]
    assert all(l[1] == "fail" and l[2] == "MUST" and "HALFCLOSE" in l[3] for l in listed)
    consumers_agree(npm_reader, os.path.join(d, "first.xml"), rep)

    p, rep = run(bin_dir, d, "second", mut, "--expect", exp, *cases)
    assert p.returncode == 0, p.stdout
    assert re.search(r"^not ok \d+ - halfclose.at_boundary # TODO expected: HALFCLOSE-1", p.stdout,
                     re.M), p.stdout
    assert "1 passed, 0 failed, 0 warnings, 0 flaky, 0 skipped, 2 expected, 0 fixed" in p.stdout
    st = {c["id"]: (c["status"], c["verdict"]) for c in rep["cases"]}
    assert st["halfclose.mid_frame"] == ("xfail", "fail")
    assert rep["summary"]["expected"] == 2 and rep["expect_file"] == exp
    assert [c["listed"]["line"] for c in rep["cases"] if c["listed"]] == [6, 7]
    consumers_agree(npm_reader, os.path.join(d, "second.xml"), rep)
    assert 'message="expected failure: HALFCLOSE-' in open(os.path.join(d, "second.xml")).read()

    # a failure the file does not list is a regression: the run fails and names it
    write_file(exp, "".join(l for l in open(exp) if "mid_frame" not in l))
    p, rep = run(bin_dir, d, "third", mut, "--expect", exp, *cases)
    assert p.returncode == 1
    assert re.search(r"^not ok \d+ - halfclose.mid_frame$", p.stdout, re.M), p.stdout
    consumers_agree(npm_reader, os.path.join(d, "third.xml"), rep)


def test_a_peers_file_against_a_mutant_of_another_group_names_the_new_failure(bin_dir, tmp_path):
    exp = os.path.join(ROOT, "peers", "asyncio", "expected")
    p, rep = run(bin_dir, str(tmp_path), "r", server(bin_dir, "mutant_no_max_check"),
                 "--expect", exp, "--case", "limits.*")
    assert p.returncode == 1, p.stdout
    new = [c["id"] for c in rep["cases"] if c["status"] == "fail"]
    assert new and all(c.startswith("limits.") for c in new)
    for cid in new:
        assert re.search(r"^not ok \d+ - %s$" % re.escape(cid), p.stdout, re.M)


def test_a_case_listed_as_a_warning_that_breaks_a_must_is_a_new_failure(bin_dir, tmp_path):
    exp = write_file(os.path.join(str(tmp_path), "e"),
                     "halfclose.at_boundary warn SHOULD closed with input unread\n"
                     "halfclose.mid_frame fail MUST closes with RST\n")
    p, rep = run(bin_dir, str(tmp_path), "r", server(bin_dir, "mutant_rst_close"), "--expect",
                 exp, "--case", "halfclose.at_boundary", "--case", "halfclose.mid_frame")
    assert p.returncode == 1, p.stdout
    st = {c["id"]: c["status"] for c in rep["cases"]}
    assert st == {"halfclose.at_boundary": "fail", "halfclose.mid_frame": "xfail"}
    assert re.search(r"^not ok 1 - halfclose.at_boundary$", p.stdout, re.M), p.stdout


def test_a_listed_case_that_passes_is_fixed_and_fails_under_strict(bin_dir, tmp_path, npm_reader):
    d = str(tmp_path)
    exp = write_file(os.path.join(d, "e"), "# known\nframing.single fail MUST it was broken\n")
    p, rep = run(bin_dir, d, "fixed", server(bin_dir, "echod"), "--expect", exp, "--case",
                 "framing.single", "--case", "framing.sequence")
    assert p.returncode == 0, p.stdout
    assert "# fixed: framing.single passed; remove it from %s (line 2 lists it as fail)" % exp \
        in p.stdout
    assert rep["cases"][0]["status"] == "fixed" and rep["summary"]["fixed"] == 1
    consumers_agree(npm_reader, os.path.join(d, "fixed.xml"), rep)
    p, rep = run(bin_dir, d, "strict", server(bin_dir, "echod"), "--expect", exp, "--case",
                 "framing.single", "--strict")
    assert p.returncode == 1, p.stdout
    assert re.search(r"^not ok 1 - framing.single$", p.stdout, re.M)
    consumers_agree(npm_reader, os.path.join(d, "strict.xml"), rep)
    assert 'type="fixed"' in open(os.path.join(d, "strict.xml")).read()


def test_a_listed_flaky_case_may_fail_or_pass(bin_dir, tmp_path, npm_reader):
    d = str(tmp_path)
    exp = write_file(os.path.join(d, "e"), "framing.single flaky - garbles every other conn\n")
    p, rep = run(bin_dir, d, "flip", hostile("flip"), "--expect", exp, "--case",
                 "framing.single", "--repeat", "2")
    assert p.returncode == 0, p.stdout
    assert (rep["cases"][0]["status"], rep["cases"][0]["verdict"]) == ("xfail", "flaky")
    consumers_agree(npm_reader, os.path.join(d, "flip.xml"), rep)
    again = os.path.join(d, "again")
    p, rep = run(bin_dir, d, "echod", server(bin_dir, "echod"), "--expect", exp, "--case",
                 "framing.single", "--strict", "--write-expect", again)
    assert p.returncode == 0 and rep["cases"][0]["status"] == "pass", p.stdout
    # a pass does not prove a flaky case fixed: regenerating the file keeps it
    assert [l.split()[:3] for l in open(again) if not l.startswith("#")] == [
        ["framing.single", "flaky", "-"]]


@pytest.mark.parametrize("text,why", [
    ("framing.nope fail\n", r"e:1: no case 'framing.nope' in the catalogue"),
    ("# c\n\nframing.single failed MUST\n", r"e:3: expected 'CASE VERDICT \[LEVEL\] \[WHY\]'"),
    ("framing.single fail\nframing.single warn\n", r"e:2: case 'framing.single' is listed twice"),
    (None, r"cannot read --expect .*e: No such file"),
])
def test_a_bad_expect_file_exits_2_naming_the_line(bin_dir, tmp_path, text, why):
    exp = os.path.join(str(tmp_path), "e")
    if text is not None:
        write_file(exp, text)
    p = subprocess.run([os.path.join(bin_dir, "framespec"), "run", "--exec",
                        server(bin_dir, "echod"), "--expect", exp], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 2 and p.stdout == "", (p.returncode, p.stdout)
    assert re.search(why, p.stderr), p.stderr


def test_junit_readers_agree_for_every_verdict_and_hostile_bytes(bin_dir, tmp_path, npm_reader):
    d = str(tmp_path)
    seen = set()
    runs = [
        ("pass_skip", server(bin_dir, "echod"), ["--case", "framing.single", "--case", "idle.*"]),
        ("fail", server(bin_dir, "mutant_rst_close"), ["--case", "halfclose.at_boundary"]),
        ("warn", server(bin_dir, "mutant_sigterm_exit"), ["--case", "lifecycle.sigterm_flush"]),
        ("flaky", hostile("flip"), ["--case", "framing.single", "--repeat", "2"]),
        # the command and label carry raw bytes ff fe (surrogateescape: os.fsencode's way)
        ("hostile", hostile("xmlish") + " # \udcff\udcfe]]><&\"", [
            "--case", "framing.*", "--label", "<x & \"y\" ]]> \udcff"]),
    ]
    exp = write_file(os.path.join(d, "e"), "halfclose.mid_frame fail - <&\"]]>\n"
                     "framing.single fail - it was broken\n")
    runs.append(("xfail_fixed", server(bin_dir, "mutant_rst_close"),
                 ["--expect", exp, "--case", "halfclose.mid_frame", "--case", "framing.single"]))
    for name, cmd, args in runs:
        p, rep = run(bin_dir, d, name, cmd, *args)
        assert rep is not None, p.stderr
        consumers_agree(npm_reader, os.path.join(d, name + ".xml"), rep)
        seen |= {c["status"] for c in rep["cases"]}
    assert seen >= {"pass", "fail", "warn", "flaky", "xfail", "fixed", "skip"}, seen
    xml = open(os.path.join(d, "hostile.xml"), "rb").read()
    xml.decode("utf-8")  # well-formed UTF-8 throughout
    assert b"]]&gt;&lt;&amp;&quot;" in xml


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
