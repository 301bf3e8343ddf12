"""A plain client (Python's socket module, nothing of framespec's) doing one interaction with an
echo server under framing 4, for test_46_import: run under tcpdump or strace, its capture is
imported and replayed. Usage: import_client.py PLAN PORT. Each plan is the interaction that
shows one in-tree mutant's bug (target/mutants.txt); the client never judges anything."""
import socket
import struct
import sys
import time


def fr(b):
    return struct.pack(">I", len(b)) + b


def read_to_close(s):
    try:
        while s.recv(65536):
            pass
    except OSError:
        pass


def conn(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(3)
    return s


def read_n(s, n):
    got = b""
    try:
        while len(got) < n:
            b = s.recv(n - len(got))
            if not b:
                break
            got += b
    except OSError:
        pass
    return got


def main(plan, port):
    s = conn(port)
    if plan == "split_header":           # one_read: the header in two writes
        f = fr(b"split")
        s.sendall(f[:2])
        time.sleep(0.03)
        s.sendall(f[2:])
        read_n(s, len(f))
    elif plan == "halfclose":            # rst_close, no_halfclose_close, drop_on_eof
        s.sendall(fr(b"one") + fr(b"two"))
        s.shutdown(socket.SHUT_WR)
        read_to_close(s)
    elif plan == "zero":                 # close_on_zero
        s.sendall(fr(b""))
        read_n(s, 4)
        s.sendall(fr(b"after"))
        read_n(s, 9)
    elif plan == "len300":               # little_endian
        s.sendall(fr(bytes(range(256)) + bytes(44)))
        read_n(s, 304)
    elif plan == "oversize":             # no_max_check: a header over the maximum (65536)
        s.sendall(fr(b"ok"))
        read_n(s, 6)
        s.sendall(struct.pack(">I", 65537))
        read_to_close(s)
    elif plan == "exact_max":            # reject_exact_max: a frame of exactly the maximum
        s.sendall(fr(bytes(65536)))
        read_n(s, 65540)
    elif plan == "exact_16m":            # a frame of exactly 16 MiB (peers/netty counts the header)
        s.settimeout(10)
        s.sendall(fr(bytes(16 << 20)))
        read_n(s, (16 << 20) + 4)
    elif plan == "big_frame":            # a frame over 99999 bytes (peers/twisted's MAX_LENGTH)
        f = fr(bytes(range(256)) * 400)
        s.sendall(f)
        read_n(s, len(f))
    elif plan.startswith("cork_close"):  # sigpipe: frames and FIN in one segment, then close
        n, size = (2, 30000) if plan == "cork_close_30k" else (20, 1024)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        s.sendall(fr(bytes(size)) * n)
    elif plan == "two_conns":            # one_client: a second connection while one is open
        s.sendall(fr(b"first"))
        read_n(s, 9)
        t = conn(port)
        t.sendall(fr(b"second"))
        read_n(t, 10)
        t.close()
    s.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
