"""`framespec fuzz --coverage afl`: guidance from the coverage of a server built with AFL++'s
compilers (docs/fuzzing.md, "Coverage guidance"). The instrumented servers are built by
ci/coverage-build.sh (afl-clang-fast, Debian afl++: ci/test.sh installs it) into the build
directory. The deep mutants' teeth (found with guidance, not without) are the fuzzer's:
pytest/test_45_deep_mutants.py."""
import csv
import os
import re
import stat
import subprocess

import pytest

SCALE = os.environ.get("FRAMESPEC_TIMEOUT_SCALE", "1")


def fuzz(bin_dir, out, server_cmd, *extra, timeout=300):
    return subprocess.run([os.path.join(bin_dir, "framespec"), "fuzz", "--exec", server_cmd,
                           "--max-frame", "65536", "--out", str(out), "--timeout-scale", SCALE]
                          + list(extra), capture_output=True, text=True, timeout=timeout)


def server(binary):
    return "%s --listen 127.0.0.1:{port} --max-frame 65536" % binary


def test_a_server_not_instrumented_is_refused_with_the_fix(bin_dir, tmp_path):
    p = fuzz(bin_dir, tmp_path, server(os.path.join(bin_dir, "echod")), "--coverage", "afl",
             "--runs", "5")
    assert p.returncode == 2, p.stderr
    assert "is not instrumented by AFL++" in p.stderr and "afl-clang-fast" in p.stderr, p.stderr
    assert not os.path.exists(tmp_path / "coverage.csv")


def test_a_script_is_refused(bin_dir, tmp_path):
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\nexec echod \"$@\"\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    p = fuzz(bin_dir, tmp_path / "out", "%s --listen 127.0.0.1:{port}" % script,
             "--coverage", "afl", "--runs", "5")
    assert p.returncode == 2 and "(a script)" in p.stderr, p.stderr


@pytest.mark.parametrize("args,msg", [
    (["--coverage", "gcov"], "--coverage"),
    (["--coverage", "afl", "--jobs", "8", "--concurrency", "16"], "128 servers"),
])
def test_usage_errors_exit_2(bin_dir, afl_bin, tmp_path, args, msg):
    p = fuzz(bin_dir, tmp_path, server(os.path.join(afl_bin, "echod")), "--runs", "5", *args)
    assert p.returncode == 2 and msg in p.stderr, p.stderr


def test_coverage_needs_exec(bin_dir, tmp_path):
    p = subprocess.run([os.path.join(bin_dir, "framespec"), "fuzz", "--target", "127.0.0.1:1",
                        "--coverage", "afl", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "--coverage needs --exec" in p.stderr, p.stderr


def test_a_server_that_does_not_attach_its_map_is_refused(bin_dir, tmp_path):
    """The runtime marks the map when it attaches it. A binary that carries the marker but runs
    an uninstrumented server (here a launcher that drops __AFL_SHM_ID and execs echod) leaves it
    unmarked: a setup error, not a campaign without coverage."""
    src = tmp_path / "launcher.c"
    src.write_text('#include <stdlib.h>\n#include <unistd.h>\n'
                   'const char marker[] = "__AFL_SHM_ID";\n'
                   'int main(int argc, char **argv) { (void)argc; unsetenv(marker);\n'
                   '  argv[0] = "%s"; execv(argv[0], argv); return 127; }\n'
                   % os.path.join(bin_dir, "echod"))
    exe = tmp_path / "launcher"
    subprocess.run(["cc", "-o", str(exe), str(src)], check=True, timeout=120)
    p = fuzz(bin_dir, tmp_path / "out", server(exe), "--coverage", "afl", "--runs", "5")
    assert p.returncode == 2, p.stderr
    assert "did not attach its coverage map" in p.stderr, p.stderr


def read_csv(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert rows, "coverage.csv has no line"
    return rows


@pytest.mark.parametrize("mode,guided", [("afl", True), ("afl-blind", False)])
def test_a_campaign_counts_edges_and_records_them(bin_dir, afl_bin, tmp_path, mode, guided):
    """Against the instrumented echod: no finding, edges reached and said, DIR/coverage.csv with
    edges over time; guided, programs that reached new edges make the coverage corpus; blind,
    nothing is kept (the black-box side of a comparison)."""
    p = fuzz(bin_dir, tmp_path, server(os.path.join(afl_bin, "echod")), "--coverage", mode,
             "--runs", "300", "--jobs", "2")
    assert p.returncode == 0, p.stderr[-3000:]
    assert "300 programs" in p.stdout and "0 new findings" in p.stdout, p.stdout
    m = re.search(r"coverage \((guided|counted, not guiding)\): (\d+) edges of the server reached; "
                  r"(\d+) programs in the coverage corpus", p.stdout)
    assert m, p.stdout
    edges, corpus = int(m.group(2)), int(m.group(3))
    assert edges >= 50, p.stdout  # echod's map is ~800 edges; startup alone reaches dozens
    assert (corpus > 0) == guided, p.stdout
    rows = read_csv(tmp_path / "coverage.csv")
    assert list(rows[0]) == ["seconds", "programs", "edges", "corpus", "findings"]
    assert int(rows[-1]["edges"]) == edges and int(rows[-1]["programs"]) == 300, rows[-1]
    assert all(int(a["edges"]) <= int(b["edges"]) for a, b in zip(rows, rows[1:])), rows
    assert "the server's map is" in p.stderr, p.stderr
    # the page: `framespec report` plots a campaign directory's edges over time
    page = tmp_path / "coverage.html"
    r = subprocess.run([os.path.join(bin_dir, "framespec"), "report", str(page),
                        "%s=%s" % (mode, tmp_path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    html = page.read_text()
    assert "Fuzzing coverage" in html and "<polyline" in html and "1 fuzz campaigns" in html
    assert "<td>%d</td>" % edges in html, html[-3000:]


@pytest.mark.parametrize("text,msg", [
    ("seconds,programs\n1,2\n", "coverage.csv:1: expected the header"),
    ("seconds,programs,edges,corpus,findings\n1,2,x,4,5\n", "coverage.csv:2: expected 5 numbers"),
    ("seconds,programs,edges,corpus,findings\n1,2,3,-4,5\n", "coverage.csv:2: expected 5 numbers"),
    ("seconds,programs,edges,corpus,findings\n", "no line after the header"),
    (None, "without a readable coverage.csv"),
])
def test_report_refuses_a_bad_campaign_directory(bin_dir, tmp_path, text, msg):
    d = tmp_path / "campaign"
    d.mkdir()
    if text is not None:
        (d / "coverage.csv").write_text(text)
    r = subprocess.run([os.path.join(bin_dir, "framespec"), "report", str(tmp_path / "x.html"),
                        str(d)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and msg in r.stderr, r.stderr
    assert not (tmp_path / "x.html").exists()


def test_any_coverage_csv_is_read_or_refused_cleanly(bin_dir, tmp_path):
    """The report tool's coverage.csv reader, fuzzed (hypothesis, derandomised): any bytes give
    rows or a clean refusal (exit 2 with the file named), never a traceback."""
    from hypothesis import HealthCheck, given, settings, strategies as st  # ci/setup.sh has it
    import importlib.util
    share = os.path.join(os.path.dirname(bin_dir), "share", "framespec", "framespec_report.py")
    spec = importlib.util.spec_from_file_location("framespec_report", share)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    d = tmp_path / "c"
    d.mkdir()
    header = b"seconds,programs,edges,corpus,findings\n"

    @settings(max_examples=300, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(body=st.binary(max_size=300), keep_header=st.booleans())
    def check(body, keep_header):
        (d / "coverage.csv").write_bytes((header if keep_header else b"") + body)
        try:
            rows = mod.load_campaign(str(d))
        except SystemExit as e:
            assert e.code == 2
            return
        assert rows and all(set(r) == set(mod.COVERAGE_FIELDS) for r in rows)
        mod.coverage_chart([("c", str(d), rows)])

    check()
