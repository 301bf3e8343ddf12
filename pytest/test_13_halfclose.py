"""halfclose: after the peer's SHUT_WR the server sends every pending echo, then FIN."""
import socket
import threading

import framing as fr


def test_shut_wr_at_boundary_flushes_then_fin(target):
    wire = b"".join(fr.encode("4", fr.pattern(i * 10, i)) for i in range(200))
    with fr.connect(target.addr) as s:
        s.sendall(wire)
        s.shutdown(socket.SHUT_WR)
        data, kind = fr.read_to_close(s, timeout=5)
    assert data == wire
    assert kind == "eof", "peer should read EOF (FIN), saw %s" % kind


def test_shut_wr_mid_frame_drops_partial(target):
    complete = fr.encode("4", b"complete") + fr.encode("4", b"")
    partial = fr.encode("4", b"partial-frame")[:7]
    with fr.connect(target.addr) as s:
        s.sendall(complete + partial)
        s.shutdown(socket.SHUT_WR)
        data, kind = fr.read_to_close(s, timeout=5)
    assert data == complete
    assert kind == "eof"


def test_shut_wr_mid_header_drops_partial(target):
    complete = fr.encode("4", b"x")
    with fr.connect(target.addr) as s:
        s.sendall(complete + b"\x00\x00")
        s.shutdown(socket.SHUT_WR)
        data, kind = fr.read_to_close(s, timeout=5)
    assert (data, kind) == (complete, "eof")


def test_large_transfer_ending_in_shut_wr(target):
    frame = fr.encode("4", fr.pattern(65536))
    count = 256  # 16 MiB each way
    got = bytearray()
    result = {}
    with fr.connect(target.addr, timeout=30) as s:
        def reader():
            result["data"], result["kind"] = fr.read_to_close(s, timeout=60)
        th = threading.Thread(target=reader)
        th.start()
        for _ in range(count):
            s.sendall(frame)
        s.shutdown(socket.SHUT_WR)
        th.join(70)
    got = result["data"]
    assert len(got) == len(frame) * count
    assert got == frame * count
    assert result["kind"] == "eof"
