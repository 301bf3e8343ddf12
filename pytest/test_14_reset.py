"""reset: peers that abort (RST) or vanish with echoes in flight do not hurt the server."""
import socket
import threading

import pytest

import framing as fr


@pytest.mark.parametrize("where", ["mid-header", "mid-payload", "echo-pending"])
def test_rst_survived(target, where):
    wire = fr.encode("4", fr.pattern(5000))
    with fr.connect(target.addr) as other:
        s = fr.connect(target.addr)
        if where == "mid-header":
            s.sendall(wire[:2])
        elif where == "mid-payload":
            s.sendall(wire[:1000])
        else:
            s.sendall(wire * 20)
        fr.abort(s)
        other.sendall(wire)
        assert fr.recv_exact(other, len(wire)) == wire
    assert target.alive()


def test_close_with_echoes_in_flight(target):
    """The peer sends thousands of frames and closes without reading: the server's writes hit RST
    (EPIPE/ECONNRESET — the SIGPIPE trap). The server must survive."""
    wire = b"".join(fr.encode("4", fr.pattern(1000, i)) for i in range(3000))
    for _ in range(3):
        s = fr.connect(target.addr)
        try:
            s.sendall(wire)
        except OSError:
            pass
        s.close()
    assert fr.wait_for(target.alive, 5)


def test_burst_of_concurrent_resets(target):
    errors = []

    def one(i):
        try:
            s = fr.connect(target.addr)
            s.sendall(fr.encode("4", fr.pattern(3000, i))[: 1 + i % 3000])
            fr.abort(s)
        except OSError as e:
            errors.append(e)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(200)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    assert not errors, errors[:3]
    assert target.alive()
