"""Malformed headers of the framings beyond Erlang close that connection only (LIMITS-6,
LIMITS-7): a varint of 11 bytes or past 2^64, a length under the header's own size. The echoes
of earlier frames come first, nothing is echoed for the bad header, and another connection is
served. And the maximum counted both ways (limit=payload, limit=frame) at max and max + 1."""

import pytest

import framing as fr


def refused(t, framing, bad):
    """Two good frames, then `bad`: their echoes, then FIN or RST, and nothing else."""
    good = fr.encode(framing, b"hello") + fr.encode(framing, b"")
    with fr.connect(t.addr) as s:
        s.sendall(good + bad)
        data, how = fr.read_to_close(s, 5.0)
    assert data == good and how in ("eof", "reset"), (data, how)
    with fr.connect(t.addr) as s:  # others are served
        s.sendall(good)
        assert fr.recv_exact(s, len(good)) == good


@pytest.mark.parametrize("bad", [bytes([0x80] * 10 + [0x00]), bytes([0x80] * 9 + [0x02]),
                                 bytes([0xFF] * 9 + [0x01])],
                         ids=["11-bytes", "past-2^64", "2^64-1-over-max"])
def test_bad_varints_close_the_connection(make_target, bad):
    refused(make_target(framing="varint"), "varint", bad)


@pytest.mark.parametrize("framing,field", [("4,adjust=-4", 3), ("u16le,offset=2,adjust=-4", 0)])
def test_a_length_under_the_header_closes(make_target, framing, field):
    refused(make_target(framing=framing), framing, fr.Spec(framing).field(field))


@pytest.mark.parametrize("framing,payload_max", [("4", 1000), ("4,limit=frame", 996),
                                                 ("u32le,offset=2,adjust=-6,limit=frame", 994),
                                                 ("varint,limit=frame", 998)])
def test_the_maximum_counts_payload_or_frame(make_target, framing, payload_max):
    t = make_target(framing=framing, max_frame=1000)
    frame = fr.encode(framing, fr.pattern(payload_max))
    with fr.connect(t.addr) as s:
        s.sendall(frame)
        assert fr.recv_exact(s, len(frame)) == frame
    refused(t, framing, fr.header(framing, payload_max + 1))
