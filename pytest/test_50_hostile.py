"""framespec against hostile servers (pytest/hostile.py): whatever the server does, framespec ends
in bounded time, with bounded memory, the right exit status, and leaves nothing behind — no
process (even one that daemonized), no file in its TMPDIR.

Every test measures one framespec command with hostile_util.run_fs and checks, besides its own
contract: not killed by our timeout, wall time under the stated bound (x FRAMESPEC_TIMEOUT_SCALE),
peak RSS under 256 MiB, nothing left in its private TMPDIR, no process left carrying its marker.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile_util import HERE, PYTHON, hostile_cmd, run_fs  # noqa: E402

SCALE = float(os.environ.get("FRAMESPEC_TIMEOUT_SCALE") or 1)
RSS_MAX_MIB = 256


def fs(args, wall, **kw):
    """Run framespec; our own hard timeout is a little past the wall bound, so that a hang is
    reported as timed_out instead of stalling the suite."""
    return run_fs(args, timeout=wall * SCALE + 5, **kw)


def check(res, wall, rc=None, tmp_ok=False):
    """The checks every test makes (and the expected exit status), all reported at once."""
    bad = []
    if res.timed_out:
        bad.append("timed out (killed after %.0f s)" % (wall * SCALE + 5))
    if res.wall >= wall * SCALE:
        bad.append("wall %.2f s >= bound %.1f s" % (res.wall, wall * SCALE))
    if res.rss_mib >= RSS_MAX_MIB:
        bad.append("peak RSS %.1f MiB >= %d MiB" % (res.rss_mib, RSS_MAX_MIB))
    if not tmp_ok and res.tmp_leftovers:
        bad.append("left in TMPDIR: %s" % res.tmp_leftovers)
    if res.proc_leftovers:
        bad.append("processes left running: %s" % res.proc_leftovers)
    if rc is not None and res.rc not in (rc if isinstance(rc, tuple) else (rc,)):
        bad.append("exit status %s, expected %s" % (res.rc, rc))
    # one line per command for the record (pytest -s shows them): the table of the issue
    print("\nhostile: %-62s rc=%s wall=%5.2fs VmHWM=%5.1fMiB (ru_maxrss<=%5.1fMiB) left=%d/%d"
          % (os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0].split("::")[-1], res.rc,
             res.wall, res.hwm_mib, res.rss_mib, len(res.tmp_leftovers),
             len(res.proc_leftovers)))
    assert not bad, "; ".join(bad) + "\n" + res.tail()


def run_exec(mode, case_ids, *extra, wall):
    args = ["run", "--exec", hostile_cmd(mode), "--timeout-scale", str(SCALE)]
    for c in case_ids:
        args += ["--case", c]
    return fs(args + list(extra), wall)


# ---------------------------------------------------------------------------------------------
# framespec run


@pytest.mark.parametrize("mode,case_ids,wall", [
    ("close", ["framing.single", "framing.zero_length"], 10),
    ("noread", ["framing.single"], 15),
    ("noaccept", ["framing.single"], 15),
    ("rst1", ["framing.single", "framing.zero_length"], 10),
    ("flood", ["framing.single", "framing.sequence"], 15),
    ("gib", ["framing.single", "framing.zero_length"], 15),
    ("append", ["framing.single", "framing.zero_length"], 10),
])
def test_misbehaving_server_fails_the_run(mode, case_ids, wall):
    """Closing, silent, never-accepting, resetting, flooding, 1-GiB-announcing and
    garbage-appending servers fail the cases (exit 1) — framespec neither hangs nor buffers what
    a flooding server sends."""
    res = run_exec(mode, case_ids, wall=wall)
    check(res, wall, rc=1)


def test_trickling_server_is_judged_in_bounded_time():
    """An echo arriving one byte per 100 ms: pass or fail, but within the cases' deadlines."""
    res = run_exec("trickle", ["framing.zero_length", "framing.single"], wall=20)
    check(res, 20, rc=(0, 1))


def test_crashing_server_is_blamed_and_named():
    """A server that dies with SIGSEGV on every case connection: the cases fail and the report
    names the signal."""
    res = run_exec("crash", ["framing.single", "framing.zero_length"], wall=15)
    check(res, 15, rc=1)
    assert "SIGSEGV" in res.stdout, res.tail()


def test_daemonizing_server_is_refused_and_stopped():
    """A server that double-forks into its own session: a usage error (exit 2) said once, and
    framespec stops the grandchild it can no longer see as its child."""
    res = run_exec("daemonize", ["framing.single", "framing.zero_length"], wall=15)
    check(res, 15, rc=2)
    assert res.stderr.count("does it daemonize?") == 1, res.tail()


def test_server_ignoring_sigterm_is_killed():
    """A server that ignores SIGTERM does not hold framespec: it says so and kills it."""
    res = run_exec("ignoreterm", ["framing.single", "framing.zero_length"], wall=15)
    check(res, 15, rc=0)
    assert "did not exit within" in res.stdout, res.tail()


@pytest.mark.parametrize("keep", [False, True], ids=["no-keep-logs", "keep-logs"])
def test_spewing_server_log_is_bounded_and_removed(keep):
    """A server writing megabytes per second to stdout: its log stays small; it is removed at
    exit, or with --keep-logs kept as exactly one framespec-* directory in TMPDIR."""
    extra = ["--keep-logs"] if keep else []
    args = ["run", "--exec", hostile_cmd("spew"), "--timeout-scale", str(SCALE),
            "--case", "framing.single", "--case", "framing.zero_length"] + extra
    res = run_fs(args, timeout=15 * SCALE + 5, keep_tmp=keep)
    try:
        check(res, 15, rc=0, tmp_ok=keep)
        if keep:
            assert len(res.tmp_leftovers) == 1, res.tail()
            name = res.tmp_leftovers[0]
            d = os.path.join(res.tmpdir, name)
            assert name.startswith("framespec-") and os.path.isdir(d), res.tail()
            files = [os.path.join(d, f) for f in os.listdir(d)]
            sizes = {f: os.path.getsize(f) for f in files if os.path.isfile(f)}
            assert sizes, "no log file in %s: %s" % (d, os.listdir(d))
            assert all(s <= 1 << 20 for s in sizes.values()), sizes
    finally:
        shutil.rmtree(res.tmpdir, ignore_errors=True)


def test_v6only_server_is_unreachable_on_v4():
    """--exec with {port}: framespec waits on 127.0.0.1, where a v6-only server never accepts."""
    res = run_exec("v6only", ["framing.single"], wall=15)
    check(res, 15, rc=2)
    assert "does not accept" in res.stderr, res.tail()


def _free_v6_port():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
            return s.getsockname()[1]
    except OSError as e:
        pytest.skip("no IPv6 loopback: %s" % e)


def test_v6only_server_passes_as_a_v6_target():
    port = _free_v6_port()
    srv = subprocess.Popen([PYTHON, os.path.join(HERE, "hostile.py"), "v6only", str(port),
                            "--lifetime", "30"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("::1", port), timeout=1).close()
                break
            except OSError:
                assert srv.poll() is None, "hostile.py v6only exited with %s" % srv.returncode
                assert time.monotonic() < deadline, "hostile.py v6only does not accept"
                time.sleep(0.05)
        res = fs(["run", "--target", "[::1]:%d" % port, "--timeout-scale", str(SCALE),
                  "--case", "framing.single", "--case", "framing.zero_length"], 10)
        check(res, 10, rc=0)
    finally:
        srv.kill()
        srv.wait(5)


def test_death_right_after_readiness_is_blamed_on_the_start():
    """The server dies right after framespec's readiness connection: the start itself failed
    (exit 2, naming the readiness check); no case is run or charged."""
    res = run_exec("crashstart", ["framing.line_terminator", "segmentation.coalesced"], wall=15)
    check(res, 15, rc=2)
    assert "readiness" in res.stderr, res.tail()
    assert "not ok" not in res.stdout, res.tail()


def test_death_during_restart_readiness_is_blamed_on_the_restart(tmp_path):
    """The server dies during framing.single (that case fails); its restart dies right after the
    readiness connection. That death belongs to the restart: the next case is not run (SKIP,
    naming the failed restart), the case after it still skips for its own reason, no further
    restart is tried, and the run fails (exit 1)."""
    state = tmp_path / "started-once"
    res = fs(["run", "--exec", hostile_cmd("crashrestart", "--state %s" % state),
              "--timeout-scale", str(SCALE), "--case", "framing.single",
              "--case", "framing.zero_length", "--case", "idle.silent_closed"], 20)
    check(res, 20, rc=1)
    lines = res.stdout.splitlines()
    assert any(l.startswith("not ok 1 - framing.single") for l in lines), res.tail()
    assert any(l.startswith("ok 2 - framing.zero_length # SKIP not run:") and "readiness" in l
               for l in lines), res.tail()
    assert any(l.startswith("ok 3 - idle.silent_closed # SKIP no --idle-timeout given")
               for l in lines), res.tail()
    assert res.stdout.count("could not restart the server") == 1, res.tail()


@pytest.mark.parametrize("args,rc,wall,says", [
    (["run", "--target", "127.0.0.1:70000"], 2, 5, "1..65535"),
    (["run", "--exec", hostile_cmd("echo"), "--case", "framing.single",
      "--json", "/nonexistent/x.json"], 2, 10, None),
    (["run", "--exec", hostile_cmd("echo"), "--case", "framing.single",
      "--junit", "/dev/full"], 2, 10, None),
], ids=["port-70000", "json-unwritable", "junit-dev-full"])
def test_exit_2_for_bad_addresses_and_unwritable_reports(args, rc, wall, says):
    res = fs(args, wall)
    check(res, wall, rc=rc)
    if says:
        assert says in res.stderr, res.tail()


def test_whole_catalogue_against_noaccept_ends_at_timeout():
    """--timeout 3 bounds the whole run, whatever the cases' own deadlines add up to."""
    res = fs(["run", "--exec", hostile_cmd("noaccept"), "--timeout-scale", str(SCALE),
              "--timeout", "3"], 3 + 10)
    check(res, 3 + 10, rc=1)


# ---------------------------------------------------------------------------------------------
# framespec replay


def replay(tmp_path, text, mode="echo", extra=(), wall=5, name="s.scenario"):
    path = tmp_path / name
    if text is None:
        path.mkdir()
    else:
        path.write_text(text)
    return fs(["replay", str(path), "--exec", hostile_cmd(mode)] + list(extra), wall)


@pytest.mark.parametrize("text,says", [
    ("", None),
    (None, None),  # a directory
    ("connect\nsend frame size:4G\n", ":2:"),  # does not fit a u32 header
    ("connect\nsend frame size:3G\n", ":2:"),  # fits the header, over --max-frame
    ("sleep 3600000\n", "timeout"),  # an hour: refused without --timeout
], ids=["empty", "directory", "size-4G", "size-3G", "sleep-1h"])
def test_replay_refuses_bad_scripts_before_allocating(tmp_path, text, says):
    res = replay(tmp_path, text)
    check(res, 5, rc=2)
    if says:
        assert says in res.stderr, res.tail()


def test_replay_against_flood_fails_with_bounded_memory(tmp_path):
    res = replay(tmp_path, 'connect\nsend frame "hi"\nexpect frame "hi" within 2000\n', "flood",
                 wall=10)
    check(res, 10, rc=1)


def test_replay_inbox_is_capped_while_a_flood_goes_unread(tmp_path):
    """A 3 s sleep while the server floods: the inbox stops at its cap (64 MiB + 1 MiB), it does
    not take everything the server sends (1.4 GB in 3 s before the cap)."""
    res = replay(tmp_path, 'connect\nsend frame "hi"\nsleep 3000\nexpect frame "hi" within 1000\n',
                 "flood", wall=10)
    check(res, 10, rc=1)
    assert 0 < res.hwm_mib < 128, res.tail()
    assert "expected:" in res.stdout, res.tail()


def test_replay_timeout_bounds_a_long_expect(tmp_path):
    res = replay(tmp_path, 'connect\nsend frame "hi"\nexpect frame "hi" within 60000\n',
                 "noaccept", extra=["--timeout", "2"], wall=2 + 4)
    check(res, 2 + 4, rc=1)


# ---------------------------------------------------------------------------------------------
# framespec bench

BENCH_SHORT = ["--duration", "1", "--warmup", "0"]


@pytest.mark.parametrize("mode,extra,rc,wall", [
    ("close", BENCH_SHORT, 1, 10),  # no frame echoed
    ("append", BENCH_SHORT, 1, 10),  # wrong echo
    ("echo", ["--rate", "1e-300"] + BENCH_SHORT, 2, 5),
    ("echo", ["--depth", "100000", "--size", "64M"] + BENCH_SHORT, 2, 5),  # refused, not allocated
    ("trickle", ["--timeout", "3", "--duration", "10"], (0, 1), 3 + 3),
], ids=["close", "append", "rate-1e-300", "depth-100000-size-64M", "trickle-timeout-3"])
def test_bench_against_hostile_servers(mode, extra, rc, wall):
    res = fs(["bench", "--exec", hostile_cmd(mode)] + extra, wall)
    check(res, wall, rc=rc)


def test_bench_label_is_escaped_in_json(tmp_path):
    label = 'a"b\\c\n'
    out = tmp_path / "bench.json"
    res = fs(["bench", "--exec", hostile_cmd("echo"), "--label", label, "--json", str(out)]
             + BENCH_SHORT, 10)
    check(res, 10, rc=0)
    with open(out) as f:
        rep = json.load(f)
    assert rep["label"] == label, rep


# ---------------------------------------------------------------------------------------------
# interrupted, and captures that cannot be made


def test_sigint_mid_run_leaves_nothing():
    """SIGINT while a case runs against a server that never reads: framespec dies of it, and its
    case process, the server (via the keeper) and its private directory go with it."""
    res = run_fs(["run", "--exec", hostile_cmd("noread"), "--case", "halfclose.*"],
                 timeout=10, interrupt_after=1.0)
    check(res, 10, rc=-2)


def test_pcap_that_cannot_capture_exits_2_unless_optional(tmp_path, bin_dir):
    """A unix socket cannot be captured: replay --pcap says so and exits 2 before replaying;
    with --pcap-optional it goes on (exit 0)."""
    sock = tmp_path / "echod.sock"
    script = tmp_path / "s.scenario"
    script.write_text('connect\nsend frame "hi"\nexpect frame "hi" within 2000\n')
    srv = subprocess.Popen([os.path.join(bin_dir, "echod"), "--listen", "unix:%s" % sock],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():
            assert time.monotonic() < deadline and srv.poll() is None, "echod did not start"
            time.sleep(0.02)
        base = ["replay", str(script), "--target", "unix:%s" % sock,
                "--pcap", str(tmp_path / "x.pcap")]
        res = fs(base, 5)
        check(res, 5, rc=2)
        assert "cannot be captured" in res.stderr, res.tail()
        res = fs(base + ["--pcap-optional"], 5)
        check(res, 5, rc=0)
    finally:
        srv.terminate()
        srv.wait(5)
