"""pytest fixtures: find the binaries, start servers on port 0, or use an external --target."""
import os
import resource
import shutil
import tempfile
import sys
import time
import uuid

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import framing as fr  # noqa: E402
from hostile_util import procs_with_env, sigkill_all  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pytest_addoption(parser):
    g = parser.getgroup("framespec")
    g.addoption("--target", default=None,
                help="run the scenarios against this running server (HOST:PORT or unix:PATH) "
                     "instead of starting echod")
    g.addoption("--framing", default="4", help="the --target's framing (default 4)")
    g.addoption("--max-frame", default=None, type=int, help="the --target's max frame in bytes")
    g.addoption("--idle-timeout", default=None, type=float,
                help="the --target's idle timeout in seconds (idle scenarios skip without it)")
    g.addoption("--server", default="echod",
                help="binary in the build's bin/ that scenarios start instead of echod (e.g. "
                     "baseline_echod or a mutant_*); it must take echod's --listen, --framing, "
                     "--max-frame and --idle-timeout")


def pytest_configure(config):
    # 1000 concurrent connections need more than the usual 1024 descriptors.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# The session's leftover check: every process the session starts inherits
# FRAMESPEC_PYTEST_SESSION=<uuid>; at the end none may still be alive, and no new /tmp or $TMPDIR
# entry named framespec* may remain (a leaked server, a leaked log or socket file).
SESSION_ENV = "FRAMESPEC_PYTEST_SESSION"
_session = {}


def _tmp_dirs():
    dirs = ["/tmp"]
    t = os.environ.get("TMPDIR")
    if t and os.path.isdir(t) and os.path.realpath(t) != os.path.realpath("/tmp"):
        dirs.append(t)
    return dirs


def _framespec_entries(d):
    try:
        return {n for n in os.listdir(d) if n.startswith("framespec")}
    except OSError:
        return set()


def _session_procs(entry):
    """[(pid, cmdline)] of live processes whose environment holds `entry`, except this one
    (/proc lists thread-group leaders only: that excludes our threads too)."""
    return procs_with_env(entry, exclude=(os.getpid(),))


def pytest_sessionstart(session):
    mark = uuid.uuid4().hex
    os.environ[SESSION_ENV] = mark
    _session["entry"] = "%s=%s" % (SESSION_ENV, mark)
    _session["tmp"] = {d: _framespec_entries(d) for d in _tmp_dirs()}
    # The session's own TMPDIR for everything it starts: framespec's private directories of
    # this session land there, so that sessions running side by side (ctest -j) never see each
    # other's short-lived framespec-XXXXXX directories in /tmp. (pytest's own tmp_path stays
    # where it was: tempfile has cached its directory by now.)
    own = tempfile.mkdtemp(prefix="pytest-session-tmpdir-")
    _session["own_tmp"] = own
    _session["tmp"][own] = set()
    os.environ["TMPDIR"] = own


def pytest_sessionfinish(session, exitstatus):
    if "entry" not in _session:
        return
    # a process on its way out, or the short-lived framespec-XXXXXX directory of a framespec run
    # outside this session (another build's tests), gets 2 s to go
    deadline = time.monotonic() + 2.0
    while True:
        procs = _session_procs(_session["entry"])
        new_files = []
        for d, before in _session["tmp"].items():
            new_files += [os.path.join(d, n) for n in sorted(_framespec_entries(d) - before)]
        if (not procs and not new_files) or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    sigkill_all(procs)
    if not procs and not new_files:
        shutil.rmtree(_session["own_tmp"], ignore_errors=True)
        return
    lines = ["framespec leftover check FAILED:"]
    lines += ["  process still alive (killed now): pid %d: %s" % p for p in procs]
    lines += ["  new temporary file left behind: %s" % f for f in new_files]
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None:
        tr.write_line("")
        for line in lines:
            tr.write_line(line, red=True)
    else:
        sys.stderr.write("\n".join(lines) + "\n")
    session.exitstatus = 1
    shutil.rmtree(_session["own_tmp"], ignore_errors=True)  # named above; nothing else keeps it


@pytest.fixture(scope="session")
def bin_dir():
    d = os.path.join(os.environ.get("FRAMESPEC_BUILD_DIR", os.path.join(ROOT, "build")), "bin")
    if not os.path.exists(os.path.join(d, "echod")):
        pytest.skip("no echod in %s: build first (cmake -S . -B build && cmake --build build), "
                    "or set FRAMESPEC_BUILD_DIR" % d)
    return d


@pytest.fixture(scope="session")
def afl_bin(bin_dir):
    """DIR/bin of servers built with AFL++'s afl-clang-fast (ci/coverage-build.sh), beside the
    build's own bin/: echod and the deep mutants, for `framespec fuzz --coverage afl`."""
    import subprocess
    out = os.path.join(os.path.dirname(bin_dir), "afl-servers")
    p = subprocess.run(["bash", os.path.join(ROOT, "ci", "coverage-build.sh"), out],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, "ci/coverage-build.sh failed (is afl++ installed?):\n" + p.stderr
    return os.path.join(out, "bin")


class Target:
    """What a scenario talks to: an address, its framing and limits, and (when we started it)
    the process."""

    def __init__(self, addr, framing, max_frame, idle, server=None):
        self.addr = addr
        self.framing = fr.norm_framing(framing)
        self.max_frame = max_frame
        self.idle = idle
        self.server = server

    @property
    def pid(self):
        return self.server.pid if self.server else None

    def alive(self):
        """The process is running (when we started it) and a fresh connection echoes."""
        if self.server is not None and not self.server.alive():
            return False
        return fr.echo_ok(self.addr, self.framing)


@pytest.fixture
def make_target(request, bin_dir):
    """make_target(framing='4', max_frame=None, idle=None, extra=(), binary='echod', listen=None)
    starts a server with those options, or returns the external --target when its options fit
    (else skips saying why)."""
    started = []
    external = request.config.getoption("--target")
    server = request.config.getoption("--server")

    def make(framing="4", max_frame=None, idle=None, extra=(), binary=None, listen=None):
        if binary is None:
            binary = server
        if extra and binary != "echod":
            pytest.skip("scenario needs echod's own options %s" % " ".join(extra))
        if external:
            ext_framing = fr.norm_framing(request.config.getoption("--framing"))
            ext_max = request.config.getoption("--max-frame")
            ext_idle = request.config.getoption("--idle-timeout")
            if fr.norm_framing(framing) != ext_framing:
                pytest.skip("scenario needs framing %s, --target has %s" % (framing, ext_framing))
            if max_frame is not None and ext_max != max_frame:
                pytest.skip("scenario needs --max-frame %s" % max_frame)
            if idle is not None and ext_idle is None:
                pytest.skip("scenario needs the target's --idle-timeout")
            return Target(external, ext_framing, ext_max or 16 << 20, ext_idle)
        argv = [os.path.join(bin_dir, binary), "--listen", listen or "127.0.0.1:0",
                "--framing", str(framing)]
        if max_frame is not None:
            argv += ["--max-frame", str(max_frame)]
        if idle is not None:
            argv += ["--idle-timeout", str(idle)]
        argv += list(extra)
        srv = fr.Server(argv)
        started.append(srv)
        return Target(srv.addr, framing, max_frame or (16 << 20), idle, srv)

    yield make
    for srv in started:
        rc = srv.stop()
        # A server that died during the test (signal) is a failure even if the test passed.
        assert rc == 0, "%s exited with %s; stderr:\n%s" % (srv.argv[0], rc, srv.stderr)


@pytest.fixture
def target(make_target):
    """The default target: framing 4, default limits."""
    return make_target()
