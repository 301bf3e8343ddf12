"""framespec report: the HTML page as a person sees it. Reports of several mutants (and echod, and a
benchmark) are rendered into one page; the DOM must hold the matrix (a cell per case and
implementation, in the verdict's class), a detail section with a wire timeline for every failure,
escaped text (a case message with markup stays text), and, in headless Chromium, no script error.
Chromium also takes the screenshots docs/ shows (FRAMESPEC_SCREENSHOTS=DIR writes them there)."""
import html.parser
import json
import os
import shutil
import subprocess
import time

import pytest

SCALE = os.environ.get("FRAMESPEC_TIMEOUT_SCALE", "1")
# (label, server binary, cases): each mutant fails its group; sigterm_exit only warns (SHOULD)
SERVERS = [
    ("echod", "echod", ["framing.*", "halfclose.*", "lifecycle.sigterm_flush"]),
    ("one_read", "mutant_one_read", ["segmentation.header_split", "framing.*"]),
    ("rst_close", "mutant_rst_close", ["halfclose.*"]),
    ("little_endian", "mutant_little_endian", ["framing.*"]),
    ("sigterm_exit", "mutant_sigterm_exit", ["lifecycle.sigterm_flush"]),
]


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


@pytest.fixture(scope="module")
def reports(bin_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("reports")
    out = []
    for label, server, cases in SERVERS:
        js = d / (label + ".json")
        cmd = [os.path.join(bin_dir, "framespec"), "run", "--exec",
               "%s --listen 127.0.0.1:{port}" % os.path.join(bin_dir, server),
               "--timeout-scale", SCALE, "--json", str(js), "--label", label]
        for c in cases:
            cmd += ["--case", c]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert p.returncode in (0, 1), p.stderr
        out.append(str(js))
    bench = d / "bench-echod.json"
    p = subprocess.run([os.path.join(bin_dir, "framespec"), "bench", "--exec",
                        "%s --listen 127.0.0.1:{port}" % os.path.join(bin_dir, "echod"),
                        "--conns", "4", "--depth", "4", "--duration", "1", "--warmup", "0.2",
                        "--label", "echod", "--json", str(bench)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    out.append(str(bench))
    return d, out


class Dom(html.parser.HTMLParser):
    """The elements the tests look at: cells, detail sections, timelines, scripts."""

    def __init__(self):
        super().__init__()
        self.cells, self.details, self.timelines, self.scripts = [], [], 0, 0
        self.rows = 0
        self.in_section = None
        self.section_svgs = {}
        self.text = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag == "td" and "cell" in cls:
            self.cells.append(a.get("data-status"))
        if tag == "section" and "detail" in cls:
            self.details.append((a.get("data-impl"), a.get("data-case")))
            self.in_section = a.get("id")
            self.section_svgs[self.in_section] = 0
        if tag == "svg" and "timeline" in cls:
            self.timelines += 1
            if self.in_section:
                self.section_svgs[self.in_section] += 1
        if tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag):
        if tag == "section":
            self.in_section = None

    def handle_data(self, data):
        self.text.append(data)


def render(bin_dir, out, inputs, *extra):
    return subprocess.run([os.path.join(bin_dir, "framespec"), "report", str(out)] + list(inputs)
                          + list(extra), capture_output=True, text=True, timeout=120)


def test_page_has_matrix_details_and_timelines(bin_dir, reports, tmp_path):
    d, inputs = reports
    page = tmp_path / "report.html"
    p = render(bin_dir, page, inputs)
    assert p.returncode == 0, p.stderr
    dom = Dom()
    dom.feed(page.read_text())
    runs = [json.loads(open(i).read()) for i in inputs if "bench" not in i]
    ids = []
    for r in runs:
        ids += [c["id"] for c in r["cases"] if c["id"] not in ids]
    # one cell per case and implementation, each in its verdict (or "none": not run there)
    assert len(dom.cells) == len(ids) * len(runs)
    want = []
    for cid in ids:
        for r in runs:
            c = next((c for c in r["cases"] if c["id"] == cid), None)
            want.append(c["status"] if c else "none")
    assert dom.cells == want
    # the mutants did fail (and warn): the page is about something
    assert "fail" in dom.cells and "warn" in dom.cells
    # a detail section for every failing, warning or flaky cell, each with a wire timeline
    bad = [(r["label"], c["id"]) for r in runs for c in r["cases"]
           if c["status"] in ("fail", "warn", "flaky")]
    assert sorted(dom.details) == sorted(bad)
    no_timeline = [s for s, n in dom.section_svgs.items() if n != 1]
    assert not no_timeline, "detail sections without a wire timeline: %s" % no_timeline
    text = "".join(dom.text)
    assert "Benchmarks" in text and "echod" in text


def test_text_is_escaped(bin_dir, reports, tmp_path):
    d, inputs = reports
    rep = json.loads(open(inputs[1]).read())
    c = next(c for c in rep["cases"] if c["status"] == "fail")
    c["detail"] = "<script>alert('x')</script> & \"quoted\""
    c["repro"] = "</pre><img src=x onerror=alert(1)>"
    evil = tmp_path / "evil.json"
    evil.write_text(json.dumps(rep))
    page = tmp_path / "evil.html"
    p = render(bin_dir, page, ["<b>name</b>=" + str(evil)])
    assert p.returncode == 0, p.stderr
    s = page.read_text()
    assert "<script>alert" not in s and "<img src=x" not in s and "<b>name</b>" not in s
    assert "&lt;script&gt;alert(" in s and "&lt;b&gt;name&lt;/b&gt;" in s
    dom = Dom()
    dom.feed(s)
    assert dom.scripts == 1  # the page's own (copy buttons), nothing from the data


def test_bad_inputs_exit_2(bin_dir, tmp_path):
    fs = os.path.join(bin_dir, "framespec")
    p = subprocess.run([fs, "report"], capture_output=True, text=True)
    assert p.returncode == 2 and "usage" in p.stderr
    p = subprocess.run([fs, "report", str(tmp_path / "x.html"), str(tmp_path / "missing.json")],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "missing.json" in p.stderr
    junk = tmp_path / "junk.json"
    junk.write_text("{\"neither\": 1}")
    p = subprocess.run([fs, "report", str(tmp_path / "x.html"), str(junk)], capture_output=True,
                       text=True)
    assert p.returncode == 2 and "neither a run report" in p.stderr
    assert not (tmp_path / "x.html").exists()


def test_large_matrix_stays_small(bin_dir, reports, tmp_path):
    """10 implementations x 60 cases, a third of them failing with wire logs: under 5 MB. The
    render time is printed (pytest -s), a figure and not a timed assertion."""
    d, inputs = reports
    base = json.loads(open(inputs[1]).read())
    fails = [c for r in inputs[1:4] for c in json.loads(open(r).read())["cases"]
             if c["status"] == "fail" and c.get("wire_log")]
    assert fails
    files = []
    for k in range(10):
        cases = []
        for i in range(60):
            c = dict(fails[i % len(fails)]) if (i + k) % 3 == 0 else \
                {"id": "", "status": "pass", "requirements": ["FRAMING-1"], "level": "MUST",
                 "runs": 1, "failures": 0}
            c["id"] = "group%d.case%02d" % (i // 10, i)
            cases.append(c)
        rep = dict(base, cases=cases, label="impl%d" % k)
        f = tmp_path / ("impl%d.json" % k)
        f.write_text(json.dumps(rep))
        files.append(str(f))
    page = tmp_path / "big.html"
    t0 = time.monotonic()
    p = render(bin_dir, page, files)
    secs = time.monotonic() - t0
    assert p.returncode == 0, p.stderr
    size = page.stat().st_size
    print("10 x 60 matrix: %.2f s, %d bytes" % (secs, size))
    assert size < 5 * 1024 * 1024, size
    dom = Dom()
    dom.feed(page.read_text())
    assert len(dom.cells) == 600 and dom.timelines == 200


def test_chromium_renders_it_without_script_errors(bin_dir, reports, tmp_path):
    browser = chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: ci/test.sh installs it (Debian chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    d, inputs = reports
    page = tmp_path / "report.html"
    assert render(bin_dir, page, inputs).returncode == 0
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--user-data-dir=" + str(tmp_path / "profile"),
             "--enable-logging=stderr", "--v=0"]
    p = subprocess.run(flags + ["--dump-dom", page.as_uri()], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    dom_text = p.stdout
    # the page's script ran to its end and saw no error (window.onerror records any)
    assert 'data-script="ok"' in dom_text, "the page's script did not finish"
    assert 'data-errors=' not in dom_text, "script errors: %s" % dom_text[:2000]
    assert "Uncaught" not in p.stderr, p.stderr[-3000:]
    dom = Dom()
    dom.feed(dom_text)
    assert dom.cells and dom.timelines == len(dom.details) > 0
    shots = os.environ.get("FRAMESPEC_SCREENSHOTS") or str(tmp_path)
    # the timeline shot: a page of one failing case (rst_close's FIN answered by RST), so that its
    # detail is in the first screen
    rep = json.loads(open(inputs[2]).read())
    rep["cases"] = [c for c in rep["cases"] if c["id"] == "halfclose.at_boundary"]
    assert rep["cases"] and rep["cases"][0]["status"] == "fail"
    one = tmp_path / "one.json"
    one.write_text(json.dumps(rep))
    single = tmp_path / "single.html"
    assert render(bin_dir, single, [str(one)]).returncode == 0
    for name, url, size in (("report-matrix.png", page.as_uri(), "1280,900"),
                            ("report-timeline.png", single.as_uri(), "1280,1300")):
        png = os.path.join(shots, name)
        p = subprocess.run(flags + ["--hide-scrollbars", "--window-size=" + size,
                                    "--screenshot=" + png, url],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0 and os.path.getsize(png) > 10000, p.stderr[-3000:]
