"""segmentation with generated inputs (hypothesis): any payloads, any slicing, same echo."""
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

import framing as fr  # noqa: E402

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(payloads=st.lists(st.binary(max_size=3000), min_size=1, max_size=30),
       cuts=st.lists(st.integers(min_value=1, max_value=5000), min_size=1, max_size=40))
def test_any_payloads_any_slicing(target, payloads, cuts):
    echo_sliced(target.addr, b"".join(fr.encode("4", p) for p in payloads), cuts)


def echo_sliced(addr, wire, cuts):
    """Send wire in writes of cuts[0], cuts[1], ... bytes (cycling); the echo is wire."""
    with fr.connect(addr) as s:
        pos, i = 0, 0
        while pos < len(wire):
            n = cuts[i % len(cuts)]
            s.sendall(wire[pos:pos + n])
            pos += n
            i += 1
        assert fr.recv_exact(s, len(wire)) == wire


@SETTINGS
@given(lines=st.lists(st.binary(max_size=200).filter(lambda b: b"\n" not in b), min_size=1,
                      max_size=20),
       cut=st.integers(min_value=1, max_value=50))
def test_line_framing_any_slicing(make_target, lines, cut):
    t = make_target(framing="line")
    wire = b"".join(fr.encode("line", l) for l in lines)
    with fr.connect(t.addr) as s:
        for pos in range(0, len(wire), cut):
            s.sendall(wire[pos:pos + cut])
        assert fr.recv_exact(s, len(wire)) == wire


# the framings beyond Erlang (docs/spec.md, Framings): every payload, any slicing, same echo
NEW_FRAMINGS = ["u24", "u64le", "varint", "u32le,offset=2,adjust=-6,limit=frame",
                "varint,offset=3,adjust=-3", "2,adjust=-2,limit=frame"]


@pytest.mark.parametrize("framing", NEW_FRAMINGS)
@SETTINGS
@given(payloads=st.lists(st.binary(max_size=20000), min_size=1, max_size=12),
       cuts=st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=40))
def test_new_framings_any_payloads_any_slicing(make_target, framing, payloads, cuts):
    t = make_target(framing=framing)
    echo_sliced(t.addr, b"".join(fr.encode(framing, p) for p in payloads), cuts)
