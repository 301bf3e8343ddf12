"""framespec import: a plain client's interaction with a mutant, captured with tcpdump on lo and
recorded with strace, imported and replayed: the import fails the mutant and passes echod. The
capture and close oracles; bad input (each a message naming the problem, exit 2)."""
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT = os.path.join(HERE, "import_client.py")
MAX = "65536"

# mutant -> the plain client's interaction that shows its bug (import_client.py)
CASES = [("one_read", "split_header"), ("rst_close", "halfclose"),
         ("no_halfclose_close", "halfclose"), ("close_on_zero", "zero"),
         ("little_endian", "len300"), ("no_max_check", "oversize"),
         ("reject_exact_max", "exact_max"), ("one_client", "two_conns")]

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="tcpdump on lo needs root")


def fs(bin_dir, *args, timeout=120):
    return subprocess.run([os.path.join(bin_dir, "framespec"), *args], capture_output=True,
                          timeout=timeout)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, bin_dir, name):
        self.port = free_port()
        self.p = subprocess.Popen([os.path.join(bin_dir, name), "--listen",
                                   "127.0.0.1:%d" % self.port, "--max-frame", MAX],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("%s did not start" % name)

    def stop(self):
        self.p.kill()
        self.p.wait()


def client(plan, port, wrap=()):
    subprocess.run([*wrap, "/usr/bin/python3", CLIENT, plan, str(port)], check=True,
                   timeout=60, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def capture_echod(bin_dir, plan, path):
    capture(bin_dir, None, plan, path)


def capture(bin_dir, mutant, plan, path):
    """Run the client against the mutant (None: echod) under tcpdump -i lo; the capture goes to
    path."""
    srv = Server(bin_dir, "mutant_" + mutant if mutant else "echod")
    td = subprocess.Popen(["tcpdump", "--immediate-mode", "-i", "lo", "-s", "0", "-U", "-w", str(path),
                           "tcp port %d" % srv.port], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    try:
        # tcpdump says "listening on lo" once it captures
        deadline = time.time() + 10
        line = b""
        while b"listening" not in line and time.time() < deadline:
            line = td.stderr.readline()
        assert b"listening" in line, "tcpdump did not start"
        client(plan, srv.port)
        time.sleep(0.3)
    finally:
        td.send_signal(signal.SIGINT)
        td.wait(timeout=10)
        srv.stop()


def record(bin_dir, mutant, plan, path):
    srv = Server(bin_dir, "mutant_" + mutant)
    try:
        client(plan, srv.port, ("strace", "-f", "-tt", "-s", "99999", "-o", str(path)))
    finally:
        srv.stop()


def imported_replays(bin_dir, tmp_path, src, mutant):
    out = tmp_path / "imported.scenario"
    p = fs(bin_dir, "import", str(src), "--framing", "4", "--max-frame", MAX, "-o", str(out))
    assert p.returncode == 0, p.stderr.decode()
    text = out.read_text()
    assert text.startswith("# framespec import of "), text
    server = "%s --listen 127.0.0.1:{port} --max-frame " + MAX
    for binary, want in (("mutant_" + mutant, 1), ("echod", 0)):
        r = fs(bin_dir, "replay", str(out), "--max-frame", MAX, "--exec",
               server % os.path.join(bin_dir, binary))
        assert r.returncode == want, (binary, text, r.stdout.decode(), r.stderr.decode())
    return text


@needs_root
@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed")
@pytest.mark.parametrize("mutant,plan", CASES, ids=[c[0] for c in CASES])
def test_a_capture_imported_fails_the_mutant_and_passes_echod(bin_dir, tmp_path, mutant, plan):
    path = tmp_path / "c.pcap"
    capture(bin_dir, mutant, plan, path)
    imported_replays(bin_dir, tmp_path, path, mutant)


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
@pytest.mark.parametrize("mutant,plan", CASES, ids=[c[0] for c in CASES])
def test_an_strace_log_imported_fails_the_mutant_and_passes_echod(bin_dir, tmp_path, mutant,
                                                                  plan):
    path = tmp_path / "c.strace"
    record(bin_dir, mutant, plan, path)
    imported_replays(bin_dir, tmp_path, path, mutant)


@needs_root
@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed")
def test_the_capture_oracle_replays_clean_on_echod_and_fails_a_mutant(bin_dir, tmp_path):
    path = tmp_path / "c.pcap"
    server = "%s --listen 127.0.0.1:{port} --max-frame " + MAX
    out = tmp_path / "cap.scenario"
    # a capture of echod: replays clean on echod, fails a mutant that answers otherwise (a
    # 300-byte frame's header read little-endian: it waits for a payload that never comes)
    capture_echod(bin_dir, "len300", path)
    p = fs(bin_dir, "import", str(path), "--oracle", "capture", "-o", str(out))
    assert p.returncode == 0, p.stderr.decode()
    assert "# oracle: capture" in out.read_text()
    assert fs(bin_dir, "replay", str(out), "--exec",
              server % os.path.join(bin_dir, "echod")).returncode == 0
    r = fs(bin_dir, "replay", str(out), "--exec",
           server % os.path.join(bin_dir, "mutant_little_endian"))
    assert r.returncode == 1 and r.stdout.startswith(b"FAIL "), r.stdout.decode()
    # and the other way round: a capture of the mutant replays clean on it and fails echod
    capture(bin_dir, "little_endian", "len300", path)
    p = fs(bin_dir, "import", str(path), "--oracle", "capture", "-o", str(out))
    assert p.returncode == 0, p.stderr.decode()
    assert fs(bin_dir, "replay", str(out), "--exec",
              server % os.path.join(bin_dir, "mutant_little_endian")).returncode == 0
    r = fs(bin_dir, "replay", str(out), "--exec", server % os.path.join(bin_dir, "echod"))
    assert r.returncode == 1 and r.stdout.startswith(b"FAIL "), r.stdout.decode()
    # the close oracle judges only the close: echod closes (FIN) where the mutant resets
    capture(bin_dir, "rst_close", "halfclose", path)
    p = fs(bin_dir, "import", str(path), "--oracle", "close", "-o", str(out))
    assert p.returncode == 0 and b"discarding" in out.read_bytes(), out.read_text()
    assert fs(bin_dir, "replay", str(out), "--exec",
              server % os.path.join(bin_dir, "mutant_rst_close")).returncode == 0
    r = fs(bin_dir, "replay", str(out), "--exec", server % os.path.join(bin_dir, "echod"))
    assert r.returncode == 1 and b"FIN" in r.stdout, r.stdout.decode()


# ---- bad input: a message that names the problem, exit 2 ----

def pcap(packets, linktype=1, snaplen=262144):
    """A pcap file (microsecond) from (caplen_cut, bytes) packets."""
    out = struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, snaplen, linktype)
    for i, (cut, data) in enumerate(packets):
        inc = data[:cut] if cut else data
        out += struct.pack("<IIII", 1700000000, i * 1000, len(inc), len(data)) + inc
    return out


def tcp_packet(src, dst, seq, flags, payload=b"", proto=6):
    def csum(b):
        return 0  # not checked by import
    tcp = struct.pack(">HHIIBBHHH", src, dst, seq, 0, 5 << 4, flags, 65535, 0, 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, proto, 0,
                     bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + tcp
    return b"\0" * 12 + b"\x08\x00" + ip


SYN, SYNACK, ACK, PSH, FIN = 0x02, 0x12, 0x10, 0x18, 0x11


def handshake():
    return [(0, tcp_packet(40000, 7000, 100, SYN)), (0, tcp_packet(7000, 40000, 500, SYNACK)),
            (0, tcp_packet(40000, 7000, 101, ACK))]


FRAME = b"\0\0\0\x05hello"


def pcapng_two_interfaces():
    """A pcapng file whose second interface is Linux cooked (libpcap reads one link type)."""
    def block(t, body):
        body += b"\0" * ((4 - len(body) % 4) % 4)
        return struct.pack("<II", t, len(body) + 12) + body + struct.pack("<I", len(body) + 12)
    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack("<HHI", 1, 0, 262144)) + block(1, struct.pack("<HHI", 113, 0,
                                                                                262144))
    for i, (_, pkt) in enumerate(handshake()):
        out += block(6, struct.pack("<IIIII", i % 2, 0, i, len(pkt), len(pkt)) + pkt)
    return out
BAD = {
    "gap": (pcap(handshake() + [(0, tcp_packet(40000, 7000, 101 + 9, PSH, FRAME)),
                                (0, tcp_packet(7000, 40000, 501, ACK))]),
            b"sequence numbers 101 to 109"),
    "snaplen": (pcap(handshake() + [(30, tcp_packet(40000, 7000, 101, PSH, FRAME))], snaplen=64),
                b"tcpdump -s 0"),
    "one_direction": (pcap([(0, tcp_packet(40000, 7000, 100, SYN)),
                            (0, tcp_packet(40000, 7000, 101, PSH, FRAME))]),
                      b"one direction"),
    "not_tcp": (pcap([(0, tcp_packet(40000, 7000, 1, 0, b"x", proto=17))]), b"no TCP segment"),
    "no_handshake": (pcap([(0, tcp_packet(40000, 7000, 101, PSH, FRAME)),
                           (0, tcp_packet(7000, 40000, 501, PSH, FRAME))]), b"--server"),
    "truncated": (pcap(handshake() + [(0, tcp_packet(40000, 7000, 101, PSH, FRAME))])[:-7],
                  b"cut short"),
    "link_type": (pcap(handshake(), linktype=147), b"not supported"),
    "pcapng_interfaces": (pcapng_two_interfaces(), b"capture one interface"),
    "strace_resumed": (b"123 12:00:00.000001 <... read resumed>\"abc\", 3) = 3\n",
                       b"resumed"),
    "strace_cut": (b"5 12:00:00.000001 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 3\n"
                   b"5 12:00:00.000002 connect(3, {sa_family=AF_INET, sin_port=htons(7000), "
                   b"sin_addr=inet_addr(\"127.0.0.1\")}, 16) = 0\n"
                   b"5 12:00:00.000003 write(3, \"\\0\\0\\0\\5he\"..., 9) = 9\n", b"-s"),
    "strace_no_connection": (b"5 12:00:00.000001 write(1, \"hi\\n\", 3) = 3\n",
                             b"no connection"),
    "empty": (b"", b"empty"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_is_refused_with_the_reason(bin_dir, tmp_path, name):
    data, why = BAD[name]
    path = tmp_path / ("in.pcap" if not name.startswith("strace") else "in.log")
    path.write_bytes(data)
    p = fs(bin_dir, "import", str(path), "--framing", "4")
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert why in p.stderr, p.stderr.decode()
    assert p.stdout == b""


def test_a_directory_and_bad_options_exit_2(bin_dir, tmp_path):
    p = fs(bin_dir, "import", str(tmp_path))
    assert p.returncode == 2 and b"a directory" in p.stderr
    for args, why in ((["--oracle", "nope"], b"--oracle"), (["--connection", "0"], b"--connection"),
                      (["--framing", "5"], b"framing"), ([], b"which file")):
        p = fs(bin_dir, "import", *args, *([] if not args else [str(tmp_path / "x")]))
        assert p.returncode == 2 and why in p.stderr, (args, p.stderr)


def test_a_connection_is_chosen_and_the_no_handshake_capture_takes_server(bin_dir, tmp_path):
    path = tmp_path / "in.pcap"
    path.write_bytes(BAD["no_handshake"][0])
    p = fs(bin_dir, "import", str(path), "--server", "7000", "--oracle", "capture")
    assert p.returncode == 0, p.stderr.decode()
    assert b"(no handshake in the capture)" in p.stdout
    assert b'c1 send frame "hello"' in p.stdout, p.stdout
    assert b"c1 expect raw hex:0000000568656c6c6f within" in p.stdout, p.stdout
    p = fs(bin_dir, "import", str(path), "--server", "7000", "--connection", "2")
    assert p.returncode == 2 and b"has 1 connection" in p.stderr, p.stderr


# ---- framespec shrink ----

@needs_root
@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed")
@pytest.mark.parametrize("mutant,plan", [("one_read", "split_header"), ("rst_close", "halfclose"),
                                         ("one_client", "two_conns")])
def test_shrink_brings_an_import_to_at_most_12_lines(bin_dir, tmp_path, mutant, plan):
    """An import shrunk against its mutant: at most 12 scenario lines, it still fails the
    mutant the same way (3 of 3 replays), and echod (the reference every reduction must pass)
    passes it."""
    path = tmp_path / "c.pcap"
    capture(bin_dir, mutant, plan, path)
    text = imported_replays(bin_dir, tmp_path, path, mutant)
    out = tmp_path / "min.scenario"
    server = "%s --listen 127.0.0.1:{port} --max-frame " + MAX
    p = fs(bin_dir, "shrink", str(tmp_path / "imported.scenario"), "--max-frame", MAX,
           "--exec", server % os.path.join(bin_dir, "mutant_" + mutant), "-o", str(out),
           "--seconds", "60", timeout=300)
    assert p.returncode == 0, p.stderr.decode()
    small = out.read_text()
    assert "the same in 3 of 3 replays" in small, small
    lines = [l for l in small.splitlines() if l and not l.startswith("#")]
    assert len(lines) <= 12, small
    assert len(lines) <= len([l for l in text.splitlines() if l and not l.startswith("#")])
    for binary, want in (("mutant_" + mutant, 1), ("echod", 0)):
        for _ in range(3):
            r = fs(bin_dir, "replay", str(out), "--max-frame", MAX, "--exec",
                   server % os.path.join(bin_dir, binary))
            assert r.returncode == want, (binary, small, r.stdout.decode())


def test_shrink_refuses_what_it_cannot_shrink(bin_dir, tmp_path):
    sc = tmp_path / "ok.scenario"
    sc.write_text("framing 4\nconnect c1\nc1 send frame \"hi\"\nc1 expect frame \"hi\" "
                  "within 1000\n")
    echod = "%s --listen 127.0.0.1:{port}" % os.path.join(bin_dir, "echod")
    p = fs(bin_dir, "shrink", str(sc), "--exec", echod)
    assert p.returncode == 1 and b"nothing to shrink" in p.stderr, p.stderr
    # a scenario that fails a correct server too: its expectations are wrong, not the server
    bad = tmp_path / "bad.scenario"
    bad.write_text("framing 4\nconnect c1\nc1 send frame \"hi\"\nc1 expect frame \"ho\" "
                   "within 1000\n")
    p = fs(bin_dir, "shrink", str(bad), "--exec", echod)
    assert p.returncode == 2 and b"reference server too" in p.stderr, p.stderr
    p = fs(bin_dir, "shrink", str(sc))
    assert p.returncode == 2 and b"which server" in p.stderr, p.stderr
    p = fs(bin_dir, "shrink", str(sc), "--exec", echod, "--keep", "NOPE-1")
    assert p.returncode == 2 and b"--keep" in p.stderr, p.stderr
