"""limits: a header over the maximum closes that connection promptly, without waiting for the
payload; earlier echoes arrive first; other connections keep being served."""
import time

import pytest

import framing as fr


@pytest.mark.parametrize("announced", ["max+1", 0xFFFFFFFF])
def test_oversize_header_closes_promptly(make_target, announced):
    t = make_target(framing="4", max_frame=1000)
    n = 1001 if announced == "max+1" else announced
    before = fr.encode("4", b"before")
    with fr.connect(t.addr) as other, fr.connect(t.addr) as s:
        s.sendall(before + fr.header("4", n) + b"z" * 100)
        t0 = time.monotonic()
        # Keep sending payload bytes: a server that waits for the payload never closes.
        data, kind = b"", "timeout"
        deadline = t0 + 3
        s.setblocking(False)
        while time.monotonic() < deadline:
            try:
                s.send(b"z" * 512)
            except OSError:
                pass
            d, kind = fr.read_to_close(s, timeout=0.05)
            data += d
            if kind != "timeout":
                break
        elapsed = time.monotonic() - t0
        assert kind in ("eof", "reset"), "server did not close after a %s header" % n
        assert elapsed < 2.0, "closed only after %.2f s" % elapsed
        assert data.startswith(before) or kind == "reset", "earlier echo not delivered first"
        # the other connection is still served
        wire = fr.encode("4", b"still here")
        other.sendall(wire)
        assert fr.recv_exact(other, len(wire)) == wire
    assert t.alive()


def test_earlier_echoes_delivered_before_close(make_target):
    t = make_target(framing="2", max_frame=100)
    frames = b"".join(fr.encode("2", fr.pattern(i)) for i in range(50))
    with fr.connect(t.addr) as s:
        s.sendall(frames + fr.header("2", 101))
        data, kind = fr.read_to_close(s, timeout=3)
    assert data == frames
    assert kind == "eof", "expected a clean FIN after the echoes, saw %s" % kind
