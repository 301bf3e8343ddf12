"""idle: a silent connection is closed after the idle timeout, with FIN; zero-length keepalive
frames keep one open."""
import time

import framing as fr

IDLE = 0.5
TOLERANCE = 0.5  # seconds past the timeout that still counts as on time


def test_silent_connection_closed_with_fin(make_target):
    t = make_target(idle=IDLE)
    with fr.connect(t.addr) as s:
        t0 = time.monotonic()
        data, kind = fr.read_to_close(s, timeout=IDLE + 3)
        elapsed = time.monotonic() - t0
    assert kind == "eof", "expected FIN after the idle timeout, saw %s" % kind
    assert data == b""
    assert IDLE - 0.05 <= elapsed <= IDLE + TOLERANCE, "closed after %.3f s" % elapsed


def test_keepalive_frames_keep_it_open(make_target):
    t = make_target(idle=IDLE)
    ping = fr.encode("4", b"")
    with fr.connect(t.addr) as s:
        end = time.monotonic() + 2.5 * IDLE
        while time.monotonic() < end:
            s.sendall(ping)
            assert fr.recv_exact(s, len(ping)) == ping
            time.sleep(IDLE / 4)
        wire = fr.encode("4", b"still open")
        s.sendall(wire)
        assert fr.recv_exact(s, len(wire)) == wire


def test_half_header_then_silence_is_closed(make_target):
    t = make_target(idle=IDLE)
    with fr.connect(t.addr) as s:
        s.sendall(fr.encode("4", b"done") + b"\x00\x00")
        data, kind = fr.read_to_close(s, timeout=IDLE + 3)
    assert data == fr.encode("4", b"done")
    assert kind == "eof"


def test_keepalive_socket_options(make_target):
    """--keepalive IDLE,INTVL,CNT sets SO_KEEPALIVE and TCP_KEEPIDLE/INTVL/CNT on accepted
    sockets (tcp(7)); checked from the kernel's view with ss(8)."""
    import shutil
    import subprocess
    assert shutil.which("ss"), "ss (iproute2) is needed"
    t = make_target(extra=["--keepalive", "37,5,3"])
    port = t.addr.rsplit(":", 1)[1]
    with fr.connect(t.addr) as s:
        assert fr.echo_ok(t.addr)
        out = subprocess.run(["ss", "-tnoH", "state", "established", "( sport = :%s )" % port],
                             capture_output=True, text=True, timeout=10).stdout
        assert "timer:(keepalive," in out, out
        secs = float(out.split("timer:(keepalive,")[1].split("sec")[0].split("min")[0])
        assert 30 <= secs <= 37, out
        s.close()
