"""Misbehaving framed echo servers ({packet,4}: u32 big-endian payload length, then payload),
one per MODE, for testing that framespec survives the servers it judges.

    /usr/bin/python3 hostile.py MODE PORT [--host H] [--lifetime S]

Every mode exits by itself after --lifetime seconds (default 120; SIGALRM, re-armed in forked
children), so that a server framespec leaks can never run forever. Nothing is printed on stdout
except by `spew`. Standard library only.

Modes:
  echo        a correct echo server (thread per connection), for baselines
  close       accept and close each connection at once
  noread      accept, never read, keep the connections open
  noaccept    listen (backlog 128), never accept
  flood       accept, then send bytes as fast as possible on each connection, ignoring input
  append      correct echo, plus 3 garbage bytes after each echoed frame
  flip        correct echo on the 1st, 3rd, 5th... connection that sends a frame; the others
              get their frames' payloads garbled (a flaky failure under --repeat, one connection
              a run)
  xmlish      echoes each frame with its payload replaced by XML's and UTF-8's troublemakers
              (< & " ]]> and the bytes ff fe 00), cut or repeated to the payload's length
  trickle     correct echo, sent one byte every 100 ms
  gib         after any bytes arrive: a header announcing 1 GiB, then payload bytes endlessly
  crash       correct echo on the first connection; SIGSEGV on the second accept
  daemonize   fork, parent exits 0; child setsid()s and forks; the grandchild serves echo
  ignoreterm  correct echo, SIGTERM ignored
  spew        correct echo, plus a thread writing ~1 MiB lines to stdout as fast as it can
  v6only      correct echo on [::1] only (IPV6_V6ONLY), --host ignored
  rst1        accept, read 1 byte, then close with SO_LINGER {1,0} (RST)
  rstmib      correct echo, but a connection that has sent 1 MiB is closed with SO_LINGER {1,0}
              (RST): a server that drops a peer that writes and does not read
  crashstart  correct echo, but SIGSEGV as soon as the first accepted connection reads EOF
  crashrestart (--state FILE) the first start dies during the first case; every restart dies
              right after the readiness connection
              (framespec's readiness probe: connect, close)
"""
import argparse
import faulthandler
import os
import resource
import signal
import socket
import struct
import sys
import threading
import time

MAX_FRAME = 16 << 20
GARBAGE = b"\xde\xad\xbe"
DEADLINE = [0.0]  # monotonic time at which this process (and its forked children) must be gone


def arm_lifetime():
    """SIGALRM (default action: terminate) at the deadline. alarm() is not inherited by fork()."""
    left = DEADLINE[0] - time.monotonic()
    if left <= 0:
        os._exit(0)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(max(1, int(left + 0.999)))


def die_sigsegv():
    # SIGSEGV is at SIG_DFL (main() made sure) and RLIMIT_CORE is 0: no core file, no
    # traceback, just the signal, as a crashing C server would die
    os.kill(os.getpid(), signal.SIGSEGV)
    time.sleep(5)
    os._exit(139)


def listener(host, port, v6only=False):
    if v6only:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        host = "::1"
    else:
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host.strip("[]"), port))
    s.listen(128)
    return s


def recv_exact(c, n):
    """n bytes, or None on EOF/error."""
    buf = bytearray()
    while len(buf) < n:
        try:
            chunk = c.recv(min(n - len(buf), 1 << 20))
        except OSError:
            return None
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def send_plain(c, data):
    c.sendall(data)


def send_trickle(c, data):
    for i in range(len(data)):
        c.sendall(data[i:i + 1])
        time.sleep(0.1)


def echo_frames(c, send=send_plain, suffix=b""):
    """Echo each complete frame (header + payload) back with `send`, then `suffix`. Returns on
    EOF, error, or a header over MAX_FRAME."""
    while True:
        hdr = recv_exact(c, 4)
        if hdr is None:
            return
        (n,) = struct.unpack(">I", hdr)
        if n > MAX_FRAME:
            return
        payload = recv_exact(c, n) if n else b""
        if payload is None:
            return
        try:
            send(c, hdr + payload + suffix)
        except OSError:
            return


def endless(c, chunk):
    try:
        while True:
            c.sendall(chunk)
    except OSError:
        pass


# per-connection handlers: each gets the accepted socket and its accept number (1-based)

def h_echo(c, _n):
    echo_frames(c)


def h_append(c, _n):
    echo_frames(c, suffix=GARBAGE)


XMLISH = b'<&"]]>\xff\xfe\x00'


def send_xmlish(c, data):
    n = len(data) - 4
    c.sendall(data[:4] + (XMLISH * (n // len(XMLISH) + 1))[:n])


FLIP = {"n": 0, "lock": threading.Lock()}


def send_flip(c, data, state):
    if state.get("odd") is None:
        with FLIP["lock"]:
            FLIP["n"] += 1
            state["odd"] = FLIP["n"] % 2 == 1
    c.sendall(data if state["odd"] else data[:4] + bytes(b ^ 0x55 for b in data[4:]))


def h_flip(c, _n):
    state = {}
    echo_frames(c, send=lambda c, d: send_flip(c, d, state))


def h_xmlish(c, _n):
    echo_frames(c, send=send_xmlish)


def h_trickle(c, _n):
    echo_frames(c, send=send_trickle)


def h_flood(c, _n):
    endless(c, bytes(i % 256 for i in range(1 << 16)))


def h_gib(c, _n):
    try:
        if not c.recv(1 << 16):
            return
    except OSError:
        return
    try:
        c.sendall(struct.pack(">I", 0x40000000))
    except OSError:
        return
    endless(c, b"\x5a" * (1 << 16))


def h_rst1(c, _n):
    try:
        c.recv(1)
    except OSError:
        pass
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def h_rstmib(c, _n):
    total = [0]

    def counted(c, data):
        c.sendall(data)
        total[0] += len(data)
        if total[0] >= 1 << 20:
            raise OSError("1 MiB")

    echo_frames(c, send=counted)
    if total[0] >= 1 << 20:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def h_crash(c, n):
    if n >= 2:
        die_sigsegv()
    echo_frames(c)


def h_crashstart(c, n):
    echo_frames(c)
    if n == 1:
        die_sigsegv()


STATE = [None]  # crashrestart: the --state file


def h_crashrestart(c, n):
    """First start (no --state file yet): dies during the first case's connection. Every later
    start: dies right after framespec's readiness connection, as crashstart does."""
    if os.path.exists(STATE[0]):
        return h_crashstart(c, n)
    if n >= 2:
        open(STATE[0], "w").close()
        die_sigsegv()
    echo_frames(c)


HELD = []  # noread: connections kept open, never read


def h_noread(c, _n):
    HELD.append(c)
    return "keep"


def serve(lsock, handler):
    """Accept forever; each connection is handled on its own daemon thread, then closed."""
    count = 0

    def run(c, n):
        keep = None
        try:
            keep = handler(c, n)
        except OSError:
            pass
        finally:
            if keep != "keep":
                c.close()

    while True:
        try:
            c, _ = lsock.accept()
        except OSError:
            time.sleep(0.05)
            continue
        count += 1
        if handler is None:  # close
            c.close()
            continue
        threading.Thread(target=run, args=(c, count), daemon=True).start()


def spew():
    line = b"s" * ((1 << 20) - 1) + b"\n"
    try:
        while True:
            view = memoryview(line)
            while view:
                view = view[os.write(1, view):]
    except OSError:  # EPIPE (SIGPIPE is ignored by Python), closed stdout: stop silently
        pass


def daemonize():
    """The classic double fork: the process framespec started exits 0 at once; the server lives
    on in a grandchild in a session of its own."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    arm_lifetime()


HANDLERS = {
    "echo": h_echo, "close": None, "noread": h_noread, "flood": h_flood, "append": h_append,
    "trickle": h_trickle, "gib": h_gib, "crash": h_crash, "daemonize": h_echo,
    "ignoreterm": h_echo, "spew": h_echo, "v6only": h_echo, "rst1": h_rst1, "rstmib": h_rstmib,
    "crashstart": h_crashstart, "crashrestart": h_crashrestart, "noaccept": None,
    "xmlish": h_xmlish, "flip": h_flip,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=sorted(HANDLERS))
    ap.add_argument("port", type=int)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--lifetime", type=float, default=120.0)
    ap.add_argument("--state", help="crashrestart: a file that marks the first start as done")
    a = ap.parse_args()
    if a.mode == "crashrestart" and not a.state:
        ap.error("crashrestart needs --state FILE")
    STATE[0] = a.state
    DEADLINE[0] = time.monotonic() + a.lifetime
    arm_lifetime()
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # crash modes leave no core files
    faulthandler.disable()  # PYTHONFAULTHANDLER would catch SIGSEGV
    signal.signal(signal.SIGSEGV, signal.SIG_DFL)  # only the main thread may set handlers

    if a.mode == "daemonize":
        daemonize()
    if a.mode == "ignoreterm":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    lsock = listener(a.host, a.port, v6only=(a.mode == "v6only"))
    if a.mode == "noaccept":
        while True:
            time.sleep(3600)  # SIGALRM ends it
    if a.mode == "spew":
        threading.Thread(target=spew, daemon=True).start()
    serve(lsock, HANDLERS[a.mode])


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
