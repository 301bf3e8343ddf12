"""backpressure: a peer that writes and never reads is eventually not read from; the bytes the
server accepts stay bounded; when the peer reads, every echo arrives intact."""
import socket
import threading
import time

import framing as fr

MAX = 65536


def fill_until_blocked(s, chunk, quiet=0.5, limit=512 << 20, timeout=20):
    """Write without reading until the socket accepts nothing for `quiet` seconds. Returns bytes
    accepted."""
    s.setblocking(False)
    sent = 0
    last = time.monotonic()
    deadline = last + timeout
    while sent < limit and time.monotonic() < deadline:
        try:
            n = s.send(chunk[sent % len(chunk):] if sent % len(chunk) else chunk)
            sent += n
            last = time.monotonic()
        except BlockingIOError:
            if time.monotonic() - last > quiet:
                break
            time.sleep(0.01)
    return sent


def _reference_echo(ls):
    """A blocking echo server of our own for one connection: read up to 64 KiB, write it back.
    When the peer stops reading, its write blocks and it stops reading too."""
    try:
        s, _ = ls.accept()
    except OSError:
        return
    with s:
        s.settimeout(30)
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    return
                s.sendall(data)
        except OSError:
            return


def kernel_buffering(chunk):
    """Bytes a socket pair absorbs, in both directions, when the far end is an echo server that
    stops reading as soon as its writes block (as framespec's backpressure.bounded measures it:
    a listener that never accepts under-measures, since TCP autotuning then never grows the
    buffers). The larger of two measurements: autotuning varies between connections."""
    best = 0
    for _ in range(2):
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(1)
        t = threading.Thread(target=_reference_echo, args=(ls,), daemon=True)
        t.start()
        c = socket.create_connection(ls.getsockname())
        try:
            best = max(best, fill_until_blocked(c, chunk, quiet=0.3))
        finally:
            fr.abort(c)
            ls.close()
            t.join(5)
    return best


def test_non_reading_peer_is_bounded_then_served(make_target):
    t = make_target(framing="4", max_frame=MAX)
    frame = fr.encode("4", fr.pattern(MAX - 7))
    k = kernel_buffering(frame)
    with fr.connect(t.addr) as other:
        s = fr.connect(t.addr)
        sent = fill_until_blocked(s, frame)
        # k covers the kernel buffers of both directions; echod adds its high-water mark
        # (256 KiB) and at most one partial frame; slack: 1 MiB + a quarter of k (autotuning)
        bound = k + 256 * 1024 + 2 * MAX + (1 << 20) + k // 4
        assert sent < bound, "server accepted %d bytes from a non-reading peer (bound %d)" % (
            sent, bound)
        # another connection is served meanwhile
        wire = fr.encode("4", b"meanwhile")
        other.sendall(wire)
        assert fr.recv_exact(other, len(wire)) == wire
        # now read everything: every echo intact
        s.setblocking(True)
        whole = sent - sent % len(frame)
        s.shutdown(socket.SHUT_WR)
        data, kind = fr.read_to_close(s, timeout=30)
        s.close()
    assert len(data) == whole, "sent %d (complete frames %d), echoed %d" % (sent, whole, len(data))
    assert data == (frame * (whole // len(frame)))
    assert kind == "eof"
