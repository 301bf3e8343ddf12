"""framing: each complete frame is echoed byte-identical, exactly once, in order."""
import pytest

import framing as fr


@pytest.mark.parametrize("framing", ["1", "2", "4", "line", "raw"])
def test_echo_each_framing(make_target, framing):
    t = make_target(framing=framing)
    payloads = [b"hello", b"", b"x" * 200] if framing != "raw" else [b"hello", b"x" * 200]
    with fr.connect(t.addr) as s:
        for p in payloads:
            wire = fr.encode(framing, p)
            s.sendall(wire)
            assert fr.recv_exact(s, len(wire)) == wire


@pytest.mark.parametrize("framing", ["2", "4"])
def test_all_256_byte_values(make_target, framing):
    t = make_target(framing=framing)
    wire = fr.encode(framing, fr.pattern(256) * 4)
    with fr.connect(t.addr) as s:
        s.sendall(wire)
        assert fr.recv_exact(s, len(wire)) == wire


@pytest.mark.parametrize("framing,max_frame", [("1", 255), ("2", 65535), ("4", 100000),
                                               ("line", 1000)])
def test_exactly_max_frame(make_target, framing, max_frame):
    t = make_target(framing=framing, max_frame=max_frame)
    payload = b"a" * max_frame if framing == "line" else fr.pattern(max_frame)
    wire = fr.encode(framing, payload) + fr.encode(framing, b"after")
    with fr.connect(t.addr) as s:
        s.sendall(wire)
        assert fr.recv_exact(s, len(wire), timeout=10) == wire
