"""Small helpers shared by the pytest scenarios: framing, servers, sockets, deadlines.

Everything here has a deadline: no helper blocks longer than the timeout it is given.
"""
import errno
import os
import select
import signal
import socket
import struct
import subprocess
import tempfile
import time

ALIASES = {"u8": "1", "u16": "2", "u32": "4", "0": "raw", "3": "u24", "8": "u64"}


def norm_framing(f):
    return ALIASES.get(str(f), str(f))


class Spec:
    """A framing (docs/spec.md, Framings), parsed on its own: the third reading of the grammar,
    after target/frame.c and harness/wire.c. Raises ValueError on a bad spec."""

    def __init__(self, text):
        parts = str(text).split(",")
        base = norm_framing(parts[0])
        self.kind, self.width, self.little = "len", 0, False
        self.offset, self.adjust, self.strip, self.limit_frame = 0, 0, 0, False
        widths = {"1": 1, "2": 2, "4": 4, "u24": 3, "u64": 8}
        if base in ("raw", "line", "varint"):
            self.kind = base
        elif base in widths:
            self.width = widths[base]
        elif base.startswith("u") and base.endswith("le") and base[1:-2] in ("8", "16", "24",
                                                                              "32", "64"):
            self.width, self.little = int(base[1:-2]) // 8, int(base[1:-2]) > 8
        elif base.startswith("len=") and base[4:] in ("1", "2", "3", "4", "8"):
            self.width = int(base[4:])
        else:
            raise ValueError("unknown framing %r" % text)
        for p in parts[1:]:
            key, _, val = p.partition("=")
            if key in ("be", "le"):
                self.little = key == "le" and self.width > 1
            elif key == "offset":
                self.offset = int(val)
            elif key == "adjust":
                self.adjust = int(val)
            elif key == "strip":
                self.strip = int(val)
            elif key == "limit":
                self.limit_frame = val == "frame"
            else:
                raise ValueError("unknown parameter %r" % p)

    @property
    def has_header(self):
        return self.kind in ("len", "varint")

    def field(self, value):
        """The preamble (bytes 0xC0 + i, as the harness writes it) and a raw field value."""
        pre = bytes(0xC0 + i for i in range(self.offset))
        if self.kind == "varint":
            out = bytearray()
            while value > 0x7F:
                out.append(0x80 | (value & 0x7F))
                value >>= 7
            out.append(value)
            return pre + bytes(out)
        value &= (1 << (8 * self.width)) - 1
        return pre + value.to_bytes(self.width, "little" if self.little else "big")

    def header(self, length):
        """The header announcing a `length`-byte payload (the field counts -adjust more)."""
        return self.field(length - self.adjust) if self.has_header else b""


def encode(framing, payload):
    """One frame: Erlang {packet,N} (big-endian payload length, then the payload), a line, raw
    bytes, or any framing of docs/spec.md (preamble, length field, payload)."""
    spec = Spec(framing)
    if spec.kind == "line":
        assert b"\n" not in payload
        return payload + b"\n"
    return spec.header(len(payload)) + payload


def header(framing, length):
    """A bare header announcing `length` bytes (may exceed the max: for hostile headers)."""
    return Spec(framing).header(length)


def pattern(n, seed=0):
    """n bytes where byte i is (i + seed) % 256 — every byte value appears."""
    return bytes((i + seed) % 256 for i in range(n))


class Server:
    """A server process started on port 0; `addr` is what it printed after 'listening on'."""

    def __init__(self, argv, timeout=10.0, env=None, preexec_fn=None):
        self.argv = argv
        # stderr goes to an unlinked file, not a pipe: a server that logs a lot must never block
        # on a full pipe that nobody reads (that would hide a busy loop, for one)
        self.errfile = tempfile.TemporaryFile()
        self.stderr = ""
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.errfile,
                                     env=env, preexec_fn=preexec_fn)
        line = read_line_deadline(self.proc.stdout, timeout)
        if not line.startswith(b"listening on "):
            err = self.stop_kill()
            raise RuntimeError("%s did not print 'listening on': %r %r" % (argv[0], line, err))
        self.addr = line[len(b"listening on "):].strip().decode()

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def sockaddr(self):
        return parse_addr(self.addr)

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Send `sig`, wait up to `timeout` s; returns the exit status (kill -9 after timeout)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._collect()
        return self.proc.returncode

    def stop_kill(self):
        self.proc.kill()
        self.proc.wait(5)
        self._collect()
        return self.stderr

    def _collect(self):
        if self.errfile.closed:
            return
        self.errfile.seek(0)
        self.stderr = self.errfile.read().decode(errors="replace")
        self.errfile.close()
        self.proc.stdout.close()


def read_line_deadline(f, timeout):
    deadline = time.monotonic() + timeout
    buf = b""
    fd = f.fileno()
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            break
        ch = os.read(fd, 1)
        if not ch:
            break
        buf += ch
    return buf


def parse_addr(addr):
    """'HOST:PORT' | '[V6]:PORT' | 'unix:PATH' -> (family, sockaddr)."""
    if addr.startswith("unix:"):
        return socket.AF_UNIX, addr[5:]
    host, _, port = addr.rpartition(":")
    if host.startswith("["):
        return socket.AF_INET6, (host[1:-1], int(port))
    return socket.AF_INET, (host, int(port))


def connect(addr, timeout=5.0):
    fam, sa = parse_addr(addr)
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sa)
    if fam != socket.AF_UNIX:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(s, n, timeout=5.0):
    """Read exactly n bytes or raise AssertionError saying what happened instead."""
    deadline = time.monotonic() + timeout
    buf = bytearray()
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("timeout: got %d of %d bytes" % (len(buf), n))
        s.settimeout(left)
        try:
            chunk = s.recv(min(n - len(buf), 1 << 20))
        except socket.timeout:
            raise AssertionError("timeout: got %d of %d bytes" % (len(buf), n))
        except ConnectionResetError:
            raise AssertionError("ECONNRESET after %d of %d bytes" % (len(buf), n))
        if not chunk:
            raise AssertionError("EOF after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return bytes(buf)


def read_to_close(s, timeout=5.0, limit=1 << 30):
    """Read until the peer closes. Returns (data, kind): kind is 'eof' (FIN: read returned 0),
    'reset' (ECONNRESET) or 'timeout' (still open at the deadline)."""
    deadline = time.monotonic() + timeout
    buf = bytearray()
    while len(buf) < limit:
        left = deadline - time.monotonic()
        if left <= 0:
            return bytes(buf), "timeout"
        s.settimeout(left)
        try:
            chunk = s.recv(1 << 20)
        except socket.timeout:
            return bytes(buf), "timeout"
        except ConnectionResetError:
            return bytes(buf), "reset"
        if not chunk:
            return bytes(buf), "eof"
        buf += chunk
    return bytes(buf), "limit"


def abort(s):
    """Close with SO_LINGER {1,0}: the kernel sends RST instead of FIN (tcp(7), socket(7))."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def echo_ok(addr, framing="4", payload=b"ping", timeout=5.0):
    """A fresh connection gets one frame echoed: the server is alive and serving."""
    with connect(addr, timeout) as s:
        wire = encode(framing, payload)
        s.sendall(wire)
        return recv_exact(s, len(wire), timeout) == wire


def wait_for(pred, timeout, interval=0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(interval)
    return pred()


def open_fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except FileNotFoundError:
        return -1


def is_reset_error(e):
    return isinstance(e, OSError) and e.errno in (errno.ECONNRESET, errno.EPIPE)
