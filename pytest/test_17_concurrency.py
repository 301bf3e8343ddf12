"""concurrency: many simultaneous connections all echo correctly; a stalled peer delays nobody."""
import selectors
import socket
import time

import framing as fr


def run_concurrent(addr, n, payload_size=100, timeout=30):
    """Open n connections at once, send one frame on each, read every echo. Returns the number of
    connections whose echo matched."""
    sel = selectors.DefaultSelector()
    conns = []
    fam, sa = fr.parse_addr(addr)
    for i in range(n):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(sa)
        conns.append(s)
    # all n are open now; then every one sends
    for i, s in enumerate(conns):
        wire = fr.encode("4", fr.pattern(payload_size, i))
        s.sendall(wire)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, (i, wire, bytearray()))
    ok = 0
    deadline = time.monotonic() + timeout
    pending = n
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            i, wire, buf = key.data
            try:
                chunk = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            buf += chunk
            if not chunk or len(buf) >= len(wire):
                ok += bytes(buf) == wire
                sel.unregister(key.fileobj)
                pending -= 1
    for s in conns:
        s.close()
    sel.close()
    return ok


def test_1000_concurrent_connections(target):
    assert run_concurrent(target.addr, 1000) == 1000


def test_stalled_peer_delays_nobody(target):
    with fr.connect(target.addr) as stalled:
        stalled.sendall(fr.encode("4", fr.pattern(10000))[:5000])  # half a frame, then nothing
        t0 = time.monotonic()
        for i in range(50):
            assert fr.echo_ok(target.addr, payload=fr.pattern(64, i))
        assert time.monotonic() - t0 < 5


def test_2000_connect_echo_close_cycles(target):
    for i in range(2000):
        assert fr.echo_ok(target.addr, payload=fr.pattern(16, i)), "cycle %d" % i


def test_ping_pong_has_no_nagle_stall(target):
    """200 round trips of a 16-byte frame: p90 far below the ~40 ms Nagle/delayed-ACK stall."""
    wire = fr.encode("4", fr.pattern(16))
    rtts = []
    with fr.connect(target.addr) as s:
        for _ in range(200):
            t0 = time.monotonic()
            s.sendall(wire)
            assert fr.recv_exact(s, len(wire)) == wire
            rtts.append(time.monotonic() - t0)
    rtts.sort()
    p90 = rtts[int(len(rtts) * 0.9)]
    assert p90 < 0.020, "p90 round trip %.1f ms: a Nagle/delayed-ACK stall" % (p90 * 1000)


def test_descriptors_return_to_baseline(target):
    """After echo/close churn, resets and half-closes, the server holds no extra descriptors."""
    import pytest
    if target.pid is None:
        pytest.skip("needs the server's pid (scenarios started it themselves)")
    assert fr.echo_ok(target.addr)
    assert fr.wait_for(lambda: fr.open_fds(target.pid) >= 0, 1)
    time.sleep(0.2)
    base = fr.open_fds(target.pid)
    wire = fr.encode("4", fr.pattern(32))
    for i in range(150):
        s = fr.connect(target.addr)
        if i < 50:
            s.sendall(wire)
            fr.recv_exact(s, len(wire))
            s.close()
        elif i < 100:
            s.sendall(wire[:10])
            fr.abort(s)
        else:
            s.sendall(wire)
            s.shutdown(socket.SHUT_WR)
            fr.read_to_close(s, timeout=3)
            s.close()
    assert fr.wait_for(lambda: fr.open_fds(target.pid) <= base, 5), \
        "%d descriptors open, %d before the churn" % (fr.open_fds(target.pid), base)
