"""segmentation: the echo does not depend on how the bytes arrive."""
import random
import time

import pytest

import framing as fr


@pytest.mark.parametrize("framing", ["1", "2", "4"])
def test_header_split_at_every_offset(make_target, framing):
    t = make_target(framing=framing)
    wire = fr.encode(framing, b"split-me")
    with fr.connect(t.addr) as s:
        for cut in range(1, len(wire)):
            s.sendall(wire[:cut])
            time.sleep(0.01)  # a pause so TCP delivers the two pieces separately
            s.sendall(wire[cut:])
            assert fr.recv_exact(s, len(wire)) == wire, "split at %d" % cut


def test_one_byte_per_write_with_pauses(target):
    wire = fr.encode("4", b"one byte at a time") + fr.encode("4", b"")
    with fr.connect(target.addr) as s:
        for b in wire:
            s.sendall(bytes([b]))
            time.sleep(0.005)
        assert fr.recv_exact(s, len(wire)) == wire


def test_many_frames_in_one_write(target):
    wire = b"".join(fr.encode("4", fr.pattern(i, i)) for i in range(300))
    with fr.connect(target.addr) as s:
        s.sendall(wire)
        assert fr.recv_exact(s, len(wire)) == wire


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_seeded_random_slicing(target, seed):
    rng = random.Random(seed)
    wire = b"".join(fr.encode("4", fr.pattern(rng.randrange(0, 3000), i)) for i in range(100))
    with fr.connect(target.addr) as s:
        pos = 0
        while pos < len(wire):
            n = rng.randrange(1, 2000)
            s.sendall(wire[pos:pos + n])
            pos += n
        assert fr.recv_exact(s, len(wire)) == wire, "seed %d" % seed
