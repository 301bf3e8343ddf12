"""echod out of descriptors (EMFILE): with a small RLIMIT_NOFILE, more connections than the limit
must not livelock the accept path. echod keeps serving the connections it has, closes the ones
whose peers left, accepts again when descriptors free up, logs at most one line per second, and
stops on SIGTERM.

These scenarios start their own echod (with a descriptor limit), so they run only against the
build's echod, never against --target."""
import os
import resource
import signal
import socket
import time

import pytest

import framing as fr

LIMIT = 64  # RLIMIT_NOFILE (soft and hard) of the echod under test


def scale():
    return float(os.environ.get("FRAMESPEC_TIMEOUT_SCALE", "1"))


def start_limited_echod(bin_dir, limit=LIMIT):
    def preexec():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    argv = [os.path.join(bin_dir, "echod"), "--listen", "127.0.0.1:0"]
    return fr.Server(argv, preexec_fn=preexec)


def cpu_seconds(pid):
    """utime + stime of the process, in seconds (proc(5): fields 14 and 15, in clock ticks)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def close_wait_count(pid):
    """Sockets of `pid` in CLOSE-WAIT (the peer's FIN read or not, never closed by the server)."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                cols = line.split()
                if cols[3] == "08" and cols[9] in inodes:  # 08 = TCP_CLOSE_WAIT
                    n += 1
    return n


def open_many(addr, n):
    """n connections (the kernel completes the handshake for those still in the backlog)."""
    conns = []
    for _ in range(n):
        s = fr.connect(addr, timeout=5 * scale())
        conns.append(s)
    return conns


def echoed(conns, wire, timeout):
    """Send `wire` on each connection; return how many echoed it within `timeout` s."""
    for s in conns:
        s.sendall(wire)
    n = 0
    deadline = time.monotonic() + timeout
    for s in conns:
        left = max(0.01, deadline - time.monotonic())
        try:
            if fr.recv_exact(s, len(wire), timeout=left) == wire:
                n += 1
        except AssertionError:
            pass
    return n


def assert_recovers(srv, base_fds):
    """After every client left: no CLOSE-WAIT left, descriptors back to the baseline, a new
    client is served, and SIGTERM stops echod with status 0."""
    pid = srv.pid
    assert fr.wait_for(lambda: close_wait_count(pid) == 0, 5 * scale()), \
        "%d sockets still in CLOSE-WAIT 5 s after their peers closed" % close_wait_count(pid)
    assert fr.wait_for(lambda: fr.open_fds(pid) <= base_fds, 5 * scale()), \
        "descriptors: %d open, %d at the start" % (fr.open_fds(pid), base_fds)
    assert fr.echo_ok(srv.addr), "a new client is not served after the descriptors freed up"
    t0 = time.monotonic()
    rc = srv.stop(timeout=5 * scale())
    assert rc == 0, "echod exited with %s on SIGTERM; stderr:\n%s" % (rc, srv.stderr[-2000:])
    assert time.monotonic() - t0 < 5 * scale()


def test_more_connections_than_descriptors_then_all_close(bin_dir):
    t_start = time.monotonic()
    srv = start_limited_echod(bin_dir)
    try:
        base_fds = fr.open_fds(srv.pid)
        conns = open_many(srv.addr, 2 * LIMIT)
        # echod serves the connections it could accept; the others wait in the backlog
        wire = fr.encode("4", b"while out of descriptors")
        served = echoed(conns, wire, timeout=2 * scale())
        assert LIMIT // 2 < served < LIMIT, "%d of %d connections served with a limit of %d" % (
            served, len(conns), LIMIT)
        # it is waiting, not spinning: CPU stays low while it is out of descriptors
        c0, t0 = cpu_seconds(srv.pid), time.monotonic()
        time.sleep(1.0)
        share = (cpu_seconds(srv.pid) - c0) / (time.monotonic() - t0)
        assert share < 0.2, "echod used %.0f%% of a CPU while out of descriptors" % (100 * share)
        for s in conns:
            s.close()
        assert_recovers(srv, base_fds)
    finally:
        if srv.alive():
            srv.stop_kill()
    # the refusal is logged at most once a second (with a count), not once per accept attempt
    seconds = time.monotonic() - t_start
    lines = [l for l in srv.stderr.splitlines() if "Too many open files" in l]
    assert 1 <= len(lines) <= int(seconds) + 1, "%d log lines about descriptors in %.1f s:\n%s" % (
        len(lines), seconds, "\n".join(lines[:20]))


def test_thousands_above_the_limit_cpu_stays_low(bin_dir):
    backlog = int(open("/proc/sys/net/core/somaxconn").read())
    n = min(2000, backlog - 100)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if n < 1000 or hard < n + 100:
        pytest.skip("needs somaxconn >= 1100 and %d descriptors for the client" % (n + 100))
    srv = start_limited_echod(bin_dir)
    try:
        base_fds = fr.open_fds(srv.pid)
        conns = open_many(srv.addr, n)
        c0, t0 = cpu_seconds(srv.pid), time.monotonic()
        time.sleep(2.0)
        share = (cpu_seconds(srv.pid) - c0) / (time.monotonic() - t0)
        assert share < 0.1, "echod used %.0f%% of a CPU with %d connections waiting" % (
            100 * share, n)
        # the connections it accepted are still served meanwhile
        wire = fr.encode("4", b"x" * 100)
        assert echoed(conns[:10], wire, timeout=2 * scale()) == 10
        for s in conns:
            fr.abort(s)
        assert_recovers(srv, base_fds)
    finally:
        if srv.alive():
            srv.stop_kill()
