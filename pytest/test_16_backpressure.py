"""backpressure: a peer that writes and never reads is eventually not read from; the bytes the
server accepts stay bounded; when the peer reads, every echo arrives intact."""
import socket
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


def kernel_buffering(chunk):
    """Bytes a socket pair absorbs when the far end never reads: a listener we never accept from."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    c = socket.create_connection(ls.getsockname())
    try:
        return fill_until_blocked(c, chunk, quiet=0.3)
    finally:
        c.close()
        ls.close()


def test_non_reading_peer_is_bounded_then_served(make_target):
    t = make_target(framing="4", max_frame=MAX)
    frame = fr.encode("4", fr.pattern(MAX - 7))
    k = kernel_buffering(frame)
    with fr.connect(t.addr) as other:
        s = fr.connect(t.addr)
        sent = fill_until_blocked(s, frame)
        # both directions have kernel buffers (our send + its receive, its send + our receive)
        bound = 2 * k + 256 * 1024 + 256 * 1024 + 2 * MAX + (1 << 20)
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
