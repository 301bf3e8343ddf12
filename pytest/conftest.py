"""pytest fixtures: find the binaries, start servers on port 0, or use an external --target."""
import os
import resource
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import framing as fr  # noqa: E402

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


@pytest.fixture(scope="session")
def bin_dir():
    d = os.path.join(os.environ.get("FRAMESPEC_BUILD_DIR", os.path.join(ROOT, "build")), "bin")
    if not os.path.exists(os.path.join(d, "echod")):
        pytest.skip("no echod in %s: build first (cmake -S . -B build && cmake --build build), "
                    "or set FRAMESPEC_BUILD_DIR" % d)
    return d


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
