"""The Debian package, as a user installs it (issue: adoption as a CI gate). As root, on a
Debian machine: `bash ci/package.sh` writes framespec_<version>_<arch>.deb and lintian finds no
error in it; `apt-get install ./framespec_*.deb` installs it; from an empty directory outside any
checkout, `framespec run --exec 'echod --listen 127.0.0.1:{port}' --junit --json --html` exits 0
and every report names the version `framespec --version` prints; `man framespec` and `man 8
echod` open; `dpkg -L framespec` lists no test artefact (mutant, baseline server, fuzz driver,
unit test); `apt-get purge framespec` leaves none of its files behind. The CI templates' shell
steps (action.yml's composite steps, ci/templates/framespec.gitlab-ci.yml's before_script and
script) are extracted and run here as their CI would run them: green against echod, red against
a mutant, green again with an expectations file. Skipped, with the reason, without root or the
Debian tools; the package is removed again at the end either way."""
import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATH = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
NEEDS = ("dpkg-deb", "apt-get", "cpack")
# a name of what the build makes for tests only: none may be in the package
TEST_ARTEFACTS = ("mutant_", "baseline_echod", "_fuzz", "test_frame", "_replay", "ctest")


def why_not():
    if os.geteuid() != 0:
        return "installing a package needs root"
    missing = [t for t in NEEDS if shutil.which(t, path=PATH) is None]
    if missing:
        return "not a Debian machine with %s" % ", ".join(missing)
    if subprocess.run(["dpkg-query", "-W", "framespec"], capture_output=True).returncode == 0:
        return "a framespec package is installed already: this test would remove it"
    return None


def sh(cmd, **kw):
    kw.setdefault("timeout", 900)
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def deb():
    reason = why_not()
    if reason:
        pytest.skip(reason)
    p = sh(["bash", os.path.join(ROOT, "ci", "package.sh")], cwd=ROOT)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "lintian: no errors" in p.stdout
    debs = [f for f in os.listdir(ROOT) if f.startswith("framespec_") and f.endswith(".deb")]
    assert len(debs) == 1, debs
    path = os.path.join(ROOT, debs[0])
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    p = sh(["apt-get", "install", "-y", "-q", "./" + debs[0]], cwd=ROOT, env=env)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    files = sh(["dpkg", "-L", "framespec"]).stdout.split()
    yield path, files
    p = sh(["apt-get", "purge", "-y", "-q", "framespec"], env=env)
    assert p.returncode == 0, p.stderr[-2000:]
    left = [f for f in files if os.path.isfile(f)]
    assert left == [], "apt-get purge framespec left %s" % left
    os.unlink(path)


def test_the_package_is_named_for_its_version_and_has_no_test_artefact(deb):
    path, files = deb
    version = sh(["/usr/bin/framespec", "--version"]).stdout.split()[1]
    assert os.path.basename(path).startswith("framespec_%s_" % version)
    bad = [f for f in files if any(t in os.path.basename(f) for t in TEST_ARTEFACTS)]
    assert bad == []
    for want in ("/usr/bin/framespec", "/usr/bin/echod", "/usr/share/framespec/framespec_report.py",
                 "/usr/share/man/man1/framespec.1.gz", "/usr/share/man/man8/echod.8.gz",
                 "/usr/share/bash-completion/completions/framespec",
                 "/usr/share/doc/framespec/copyright", "/usr/share/doc/framespec/changelog.gz"):
        assert want in files
    fields = sh(["dpkg-deb", "--field", path, "Depends", "Recommends"]).stdout
    for dep in ("libjansson4", "libxml2", "python3-jinja2", "nftables", "tcpdump"):
        assert dep in fields


def test_installed_framespec_judges_echod_from_an_empty_directory(deb):
    version = sh(["/usr/bin/framespec", "--version"]).stdout.strip()
    assert sh(["/usr/bin/echod", "--version"]).stdout.strip() == version.replace("framespec",
                                                                                "echod", 1)
    with tempfile.TemporaryDirectory(prefix="fs-pkg-") as d:
        p = sh(["framespec", "run", "--exec", "echod --listen 127.0.0.1:{port}", "--junit",
                "j.xml", "--json", "r.json", "--html", "r.html"], cwd=d,
               env=dict(os.environ, PATH="/usr/bin:/bin:/usr/sbin:/sbin"))
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
        ver = version.split(None, 1)[1]
        assert json.load(open(os.path.join(d, "r.json")))["framespec_version"] == ver
        assert 'name="framespec_version" value="%s"' % ver in open(os.path.join(d, "j.xml")).read()
        assert ver in open(os.path.join(d, "r.html")).read()


def test_man_pages_open(deb):
    for page in (["framespec"], ["8", "echod"]):
        p = sh(["man", "-P", "cat"] + page, env=dict(os.environ, MANWIDTH="80"))
        assert p.returncode == 0, p.stderr
        assert "EXIT STATUS" in p.stdout and page[-1] in p.stdout


def substitute(text, ctx):
    """GitHub's ${{ inputs.X }}, ${{ github.action_path }} and ${{ steps.ID.outputs.X }}."""
    return re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}", lambda m: str(ctx.get(m.group(1), "")), text)


def run_action(inputs, workdir):
    """Run action.yml's `run:` steps in order as the runner does (bash -eo pipefail, env, GITHUB_OUTPUT; a
    step after a failure only when `if: always()`; `uses:` steps are GitHub's own and are not
    run). Returns (job failed, the outputs of step `run`)."""
    action = yaml.safe_load(open(os.path.join(ROOT, "action.yml")))
    ctx = {"github.action_path": ROOT}
    for k, v in action["inputs"].items():
        ctx["inputs." + k] = inputs.get(k, v.get("default", ""))
    failed = False
    for step in action["runs"]["steps"]:
        if "run" not in step or (failed and step.get("if") != "always()"):
            continue
        out = os.path.join(workdir, "github_output")
        open(out, "w").close()
        env = dict(os.environ, GITHUB_OUTPUT=out)
        env.update({k: substitute(str(v), ctx) for k, v in step.get("env", {}).items()})
        # `shell: bash` is `bash --noprofile --norc -eo pipefail {0}` on GitHub's runners
        p = sh(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c",
                substitute(step["run"], ctx)], cwd=workdir, env=env)
        for line in open(out):
            k, _, v = line.strip().partition("=")
            ctx["steps.%s.outputs.%s" % (step.get("id"), k)] = v
        failed = failed or p.returncode != 0
    return failed, ctx.get("steps.run.outputs.status")


def run_gitlab(variables, workdir):
    """Run the template's before_script and script lines in one bash, with `set -eo pipefail`,
    as GitLab's runner does. Returns the exit status."""
    job = yaml.safe_load(open(os.path.join(ROOT, "ci", "templates",
                                           "framespec.gitlab-ci.yml")))[".framespec"]
    env = dict(os.environ)
    env.update({k: str(v) for k, v in job["variables"].items()})
    env.update(variables)
    script = "set -eo pipefail\n" + "\n".join(job["before_script"] + job["script"])
    p = sh(["bash", "-c", script], cwd=workdir, env=env)
    junit = os.path.join(workdir, job["artifacts"]["reports"]["junit"].replace(
        "$FRAMESPEC_OUT", env["FRAMESPEC_OUT"]))
    assert os.path.getsize(junit) > 0, p.stdout[-2000:] + p.stderr[-2000:]
    return p.returncode


def test_ci_templates_run_green_against_echod_and_red_against_a_mutant(deb, bin_dir):
    path, _ = deb
    echod = "echod --listen 127.0.0.1:{port}"
    mutant = os.path.join(bin_dir, "mutant_rst_close") + " --listen 127.0.0.1:{port}"
    cases = "--case framing.* --case halfclose.*"
    with tempfile.TemporaryDirectory(prefix="fs-ci-") as d:
        failed, status = run_action({"exec": echod, "args": cases, "deb": path}, d)
        assert (failed, status) == (False, "0")
        for name in ("junit.xml", "report.json", "report.html", "report.tap"):
            assert os.path.getsize(os.path.join(d, "framespec-out", name)) > 0
        failed, status = run_action({"exec": mutant, "args": cases, "deb": path}, d)
        assert (failed, status) == (True, "1")
        exp = os.path.join(d, "server.expect")
        p = sh(["framespec", "run", "--exec", mutant, "--write-expect", exp] + cases.split())
        assert p.returncode == 1
        failed, status = run_action({"exec": mutant, "args": cases + " --strict", "deb": path,
                                     "expect": exp}, d)
        assert (failed, status) == (False, "0")
        common = {"FRAMESPEC_DEB": path, "FRAMESPEC_ARGS": cases}
        assert run_gitlab(dict(common, FRAMESPEC_EXEC=echod), d) == 0
        assert run_gitlab(dict(common, FRAMESPEC_EXEC=mutant), d) == 1
        assert run_gitlab(dict(common, FRAMESPEC_EXEC=mutant, FRAMESPEC_EXPECT=exp), d) == 0
