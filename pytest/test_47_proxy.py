"""framespec proxy: a faithful relay (half-close stays a half-close, an RST becomes an RST, an
upstream that refuses gets the client an RST, backpressure bounds its memory, the catalogue gives
the same verdicts through it as direct), and each toxic doing what it says, seen by a plain
server and client on each side."""
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

SCALE = float(os.environ.get("FRAMESPEC_TIMEOUT_SCALE", "1"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def frame(payload):
    return struct.pack(">I", len(payload)) + payload


class Proxy:
    """framespec proxy on a port of its choosing, in front of upstream."""

    def __init__(self, bin_dir, upstream, *extra):
        self.p = subprocess.Popen([os.path.join(bin_dir, "framespec"), "proxy", "--listen",
                                   "127.0.0.1:0", "--upstream", upstream, *extra],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.p.stdout], [], [], 10 * SCALE)
        line = self.p.stdout.readline() if ready else ""
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if not m:
            self.p.kill()
            raise AssertionError("no proxy: %r %r" % (line, self.p.stderr.read()))
        self.port = int(m.group(1))
        self.addr = "127.0.0.1:%d" % self.port

    def connect(self):
        return socket.create_connection(("127.0.0.1", self.port), timeout=10 * SCALE)

    def stop(self):
        """SIGTERM; the summary it printed."""
        self.p.send_signal(signal.SIGTERM)
        out, err = self.p.communicate(timeout=10 * SCALE)
        assert self.p.returncode == 0, (out, err)
        return out, err


class Peer(threading.Thread):
    """A one-connection server that records what it reads: ('data', bytes, t), ('eof', t),
    ('rst', t); `reply(conn, data)` may answer. It reads until EOF, an RST or 10 s."""

    def __init__(self, reply=None, after_eof=None, rst_after=None):
        super().__init__(daemon=True)
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(8)
        self.addr = "127.0.0.1:%d" % self.ls.getsockname()[1]
        self.reply, self.after_eof, self.rst_after = reply, after_eof, rst_after
        self.events = []
        self.done = threading.Event()
        self.start()

    def run(self):
        self.ls.settimeout(10 * SCALE)
        try:
            c, _ = self.ls.accept()
        except OSError:
            self.done.set()
            return
        c.settimeout(10 * SCALE)
        got = b""
        try:
            while True:
                try:
                    b = c.recv(65536)
                except ConnectionResetError:
                    self.events.append(("rst", time.monotonic()))
                    break
                except socket.timeout:
                    self.events.append(("timeout", time.monotonic()))
                    break
                if not b:
                    self.events.append(("eof", time.monotonic()))
                    if self.after_eof:
                        c.sendall(self.after_eof)
                    break
                self.events.append(("data", b, time.monotonic()))
                got += b
                if self.reply:
                    self.reply(c, b)
                if self.rst_after is not None and len(got) >= self.rst_after:
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    break
        finally:
            c.close()
            self.ls.close()
            self.done.set()

    def chunks(self):
        return [e[1] for e in self.events if e[0] == "data"]

    def kinds(self):
        return [e[0] for e in self.events]


def echo(c, b):
    c.sendall(b)


def read_until_close(s, limit=10):
    """(bytes, 'eof' | 'rst' | 'timeout')."""
    got = b""
    s.settimeout(limit * SCALE)
    while True:
        try:
            b = s.recv(65536)
        except ConnectionResetError:
            return got, "rst"
        except socket.timeout:
            return got, "timeout"
        if not b:
            return got, "eof"
        got += b


# ---- a faithful relay ----

def test_halfclose_stays_a_halfclose(bin_dir):
    peer = Peer(reply=echo, after_eof=b"after the client's FIN")
    px = Proxy(bin_dir, peer.addr)
    s = px.connect()
    s.sendall(frame(b"hello"))
    s.shutdown(socket.SHUT_WR)
    got, how = read_until_close(s)
    peer.done.wait(10)
    assert got == frame(b"hello") + b"after the client's FIN" and how == "eof", (got, how)
    assert peer.kinds() == ["data", "eof"], peer.events
    s.close()
    out, _ = px.stop()
    assert "1 connections (0 open, 0 reset)" in out, out


def test_client_rst_reaches_the_server_as_rst(bin_dir):
    peer = Peer()
    px = Proxy(bin_dir, peer.addr)
    s = px.connect()
    s.sendall(frame(b"x" * 10))
    time.sleep(0.2)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    peer.done.wait(10)
    assert peer.kinds() == ["data", "rst"], peer.events
    px.stop()


def test_server_rst_reaches_the_client_as_rst(bin_dir):
    peer = Peer(rst_after=4)
    px = Proxy(bin_dir, peer.addr)
    s = px.connect()
    s.sendall(frame(b"y"))
    got, how = read_until_close(s)
    assert how == "rst", (got, how)
    px.stop()


def test_an_upstream_that_refuses_gets_the_client_an_rst(bin_dir):
    px = Proxy(bin_dir, "127.0.0.1:%d" % free_port())
    s = px.connect()
    got, how = read_until_close(s)
    assert (got, how) == (b"", "rst")
    out, _ = px.stop()
    assert "1 connections (0 open, 1 reset)" in out, out


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def test_backpressure_bounds_memory_and_loses_nothing(bin_dir, target):
    """A client that sends 64 MiB without reading, through the proxy to echod: the proxy stops
    reading a side whose destination does not drain, so its memory stays bounded; then the
    client reads every byte back."""
    px = Proxy(bin_dir, target.addr)
    s = px.connect()
    s.setblocking(False)
    payload = bytes(range(256)) * 256  # 64 KiB
    data = frame(payload) * 1024       # 64 MiB of frames
    sent, deadline = 0, time.monotonic() + 20 * SCALE
    while sent < len(data) and time.monotonic() < deadline:
        try:
            sent += s.send(data[sent:sent + 1048576])
        except BlockingIOError:
            time.sleep(0.01)
            if time.monotonic() > deadline - 15 * SCALE:
                break  # stuck for 5 s: everyone's buffers are full
    rss = rss_kib(px.p.pid)
    assert sent < len(data), "nothing pushed back: the proxy holds everything"
    assert rss < 24 * 1024, "proxy RSS %d KiB with a client that does not read" % rss
    # now read everything back, sending the rest meanwhile
    got = bytearray()
    deadline = time.monotonic() + 60 * SCALE
    while len(got) < len(data) and time.monotonic() < deadline:
        r, w, _ = select.select([s], [s] if sent < len(data) else [], [], 1)
        if r:
            b = s.recv(1048576)
            assert b, "EOF after %d of %d bytes" % (len(got), len(data))
            got += b
        if w:
            try:
                sent += s.send(data[sent:sent + 1048576])
            except BlockingIOError:
                pass
    assert bytes(got) == data, "%d of %d bytes came back" % (len(got), len(data))
    print("proxy RSS with a non-reading client: %d KiB" % rss)
    s.close()
    px.stop()


def statuses(report):
    return {c["id"]: c["status"] for c in json.load(open(report))["cases"]}


@pytest.mark.parametrize("server", ["echod", "mutant_rst_close", "mutant_close_on_zero"])
def test_the_catalogue_gives_the_same_verdicts_through_the_proxy(bin_dir, make_target, tmp_path,
                                                                 server):
    """`framespec run --target` the proxy and the server itself: the same verdict for every case
    (cases that need --exec skip both ways). Mutants whose bug shows deterministically: one whose
    failure depends on how reads fall (mutant_one_read in segmentation.random_slices) may pass
    one way and fail the other, as it may between two direct runs."""
    t = make_target(binary=server)
    px = Proxy(bin_dir, t.addr)
    groups = ["--case", "framing.*", "--case", "segmentation.*", "--case", "halfclose.*",
              "--case", "reset.*", "--case", "limits.*", "--case", "concurrency.*"]
    for name, addr in (("direct", t.addr), ("proxied", px.addr)):
        subprocess.run([os.path.join(bin_dir, "framespec"), "run", "--target", addr,
                        "--timeout-scale", str(SCALE), "--json", str(tmp_path / (name + ".json")),
                        *groups], capture_output=True, timeout=600)
    direct, proxied = statuses(tmp_path / "direct.json"), statuses(tmp_path / "proxied.json")
    assert direct and direct == proxied, {k: (direct[k], proxied.get(k)) for k in direct
                                          if direct[k] != proxied.get(k)}
    if server != "echod":
        assert "fail" in direct.values(), direct
    px.stop()


# ---- toxics ----

@pytest.mark.parametrize("spec,why", [
    ("nosuch", "no toxic type 'nosuch'"),
    ("latency:sideways", "stream 'sideways'"),
    ("latency:downstream:speed=3", "latency has no attribute 'speed'"),
    ("latency:downstream:latency=-1", "latency's latency '-1'"),
    ("frame_reset:upstream:at=middle", "boundary|header|payload"),
    ("latency:downstream:toxicity=2", "probability"),
])
def test_a_bad_toxic_is_refused_with_the_reason(bin_dir, spec, why):
    p = subprocess.run([os.path.join(bin_dir, "framespec"), "proxy", "--listen", "127.0.0.1:0",
                        "--upstream", "127.0.0.1:1", "--toxic", spec], capture_output=True,
                       text=True, timeout=10)
    assert p.returncode == 2 and why in p.stderr, p.stderr


def test_frame_length_needs_a_length_field(bin_dir):
    p = subprocess.run([os.path.join(bin_dir, "framespec"), "proxy", "--listen", "127.0.0.1:0",
                        "--upstream", "127.0.0.1:1", "--framing", "line", "--toxic",
                        "frame_length:upstream"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "frame_length rewrites a length field" in p.stderr, p.stderr


def tcpdump(port, path):
    """tcpdump on lo for TCP port `port`, once it captures; None without root or tcpdump."""
    if os.geteuid() != 0 or not shutil.which("tcpdump"):
        return None
    td = subprocess.Popen(["tcpdump", "--immediate-mode", "-i", "lo", "-s", "0", "-U", "-w",
                           str(path), "tcp port %d" % port], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    line = td.stderr.readline()
    assert b"listening" in line, line
    return td


def segments(path, dport):
    """The payloads of the TCP segments to port dport in a pcap of lo (Ethernet link type)."""
    data = open(path, "rb").read()
    assert struct.unpack("<I", data[:4])[0] == 0xa1b2c3d4 and \
        struct.unpack("<I", data[20:24])[0] == 1, "a pcap of lo (link type 1)"
    out, pos = [], 24
    while pos + 16 <= len(data):
        incl = struct.unpack("<I", data[pos + 8:pos + 12])[0]
        pkt = data[pos + 16:pos + 16 + incl]
        pos += 16 + incl
        ip = pkt[14:]
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
            continue
        ihl = (ip[0] & 15) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        tcp = ip[ihl:total]
        if struct.unpack(">H", tcp[2:4])[0] != dport:
            continue
        payload = tcp[(tcp[12] >> 4) * 4:]
        if payload:
            out.append(payload)
    return out


def test_frame_split_at_the_boundary_writes_header_and_payload_apart(bin_dir, tmp_path):
    """Each frame as two writes, 200 ms apart, and on the wire (as root) exactly two segments."""
    peer = Peer()
    port = int(peer.addr.split(":")[1])
    td = tcpdump(port, tmp_path / "split.pcap")
    px = Proxy(bin_dir, peer.addr, "--toxic", "frame_split:upstream:pause=200")
    s = px.connect()
    s.sendall(frame(b"p" * 100))
    time.sleep(0.5 * SCALE)
    s.sendall(frame(b"q" * 100))
    time.sleep(0.5 * SCALE)
    s.close()
    peer.done.wait(10)
    px.stop()
    assert peer.chunks() == [frame(b"p" * 100)[:4], b"p" * 100,
                             frame(b"q" * 100)[:4], b"q" * 100], peer.events
    if td is not None:
        time.sleep(0.2)
        td.send_signal(signal.SIGINT)
        td.wait(10)
        assert segments(tmp_path / "split.pcap", port) == peer.chunks()


def test_frame_reset_after_three_frames(bin_dir):
    """3 frames of the server's reach the client, then an RST to each side."""
    peer = Peer(reply=echo)
    px = Proxy(bin_dir, peer.addr, "--toxic", "frame_reset:downstream:after_frames=3")
    s = px.connect()
    frames = [frame(bytes([i]) * (10 + i)) for i in range(5)]
    s.sendall(b"".join(frames))
    got, how = read_until_close(s)
    peer.done.wait(10)
    assert (got, how) == (b"".join(frames[:3]), "rst"), (got, how)
    assert peer.kinds()[-1] == "rst", peer.events
    px.stop()


@pytest.mark.parametrize("spec,sent,want", [
    ("frame_drop:upstream:first=1", [b"a", b"bb", b"ccc"], frame(b"a") + frame(b"ccc")),
    ("frame_dup:upstream:first=0", [b"a", b"bb"], frame(b"a") * 2 + frame(b"bb")),
    ("frame_length:upstream:value=plus_one", [b"abc"], struct.pack(">I", 4) + b"abc"),
    ("frame_length:upstream:value=u32_max", [b"abc"], b"\xff\xff\xff\xff" + b"abc"),
    ("frame_shutdown:upstream:after_frames=2", [b"a", b"bb", b"ccc"], frame(b"a") + frame(b"bb")),
])
def test_frame_toxics_change_what_the_server_reads(bin_dir, spec, sent, want):
    peer = Peer()
    px = Proxy(bin_dir, peer.addr, "--toxic", spec)
    s = px.connect()
    s.sendall(b"".join(frame(p) for p in sent))
    if not spec.startswith("frame_shutdown"):
        time.sleep(0.3 * SCALE)
        s.shutdown(socket.SHUT_WR)
    peer.done.wait(10 * SCALE)
    assert b"".join(peer.chunks()) == want and peer.kinds()[-1] == "eof", peer.events
    s.close()
    px.stop()


def test_frame_coalesce_writes_frames_together(bin_dir):
    peer = Peer()
    px = Proxy(bin_dir, peer.addr, "--toxic", "frame_coalesce:upstream:frames=3,wait=2000")
    s = px.connect()
    for i in range(3):
        s.sendall(frame(bytes([65 + i])))
        time.sleep(0.15)
    time.sleep(0.3)
    s.shutdown(socket.SHUT_WR)
    peer.done.wait(10 * SCALE)
    assert peer.chunks() == [frame(b"A") + frame(b"B") + frame(b"C")], peer.events
    px.stop()


@pytest.mark.parametrize("spec,least_ms", [("latency:upstream:latency=300", 300),
                                           ("frame_delay:upstream:latency=300", 300),
                                           ("frame_stall:upstream:after_frames=0,duration=300", 300),
                                           ("bandwidth:upstream:rate=100", 250)])
def test_delaying_toxics_delay(bin_dir, spec, least_ms):
    peer = Peer()
    px = Proxy(bin_dir, peer.addr, "--toxic", spec)
    s = px.connect()
    t0 = time.monotonic()
    s.sendall(frame(b"z" * 30000))  # 30 KB: 300 ms at 100 KB/s
    s.shutdown(socket.SHUT_WR)
    peer.done.wait(10 * SCALE)
    last = [e[-1] for e in peer.events if e[0] == "data"][-1]
    assert (last - t0) * 1000 >= least_ms, ((last - t0) * 1000, peer.events)
    assert b"".join(peer.chunks()) == frame(b"z" * 30000)
    px.stop()


def test_limit_data_closes_after_its_bytes(bin_dir):
    peer = Peer()
    px = Proxy(bin_dir, peer.addr, "--toxic", "limit_data:upstream:bytes=6")
    s = px.connect()
    s.sendall(frame(b"abcdef"))
    peer.done.wait(10 * SCALE)
    assert b"".join(peer.chunks()) == frame(b"abcdef")[:6] and peer.kinds()[-1] == "eof", \
        peer.events
    px.stop()


def test_reset_peer_resets_both_sides(bin_dir):
    peer = Peer()
    px = Proxy(bin_dir, peer.addr, "--toxic", "reset_peer:upstream:timeout=100")
    s = px.connect()
    s.sendall(frame(b"q"))
    got, how = read_until_close(s)
    peer.done.wait(10 * SCALE)
    assert how == "rst" and peer.kinds() == ["rst"], (how, peer.events)
    px.stop()


def test_slicer_cuts_writes(bin_dir):
    peer = Peer()
    px = Proxy(bin_dir, peer.addr, "--toxic", "slicer:upstream:average_size=10,delay=20000")
    s = px.connect()
    s.sendall(b"0123456789" * 8)
    time.sleep(0.3)
    s.shutdown(socket.SHUT_WR)
    peer.done.wait(10 * SCALE)
    assert b"".join(peer.chunks()) == b"0123456789" * 8
    assert len(peer.chunks()) >= 4, peer.events
    px.stop()


# ---- Toxiproxy's API ----

class ApiProxy:
    """framespec proxy --api on a port of its choosing, with no proxy of its own."""

    def __init__(self, bin_dir, *extra):
        self.p = subprocess.Popen([os.path.join(bin_dir, "framespec"), "proxy", "--api", "0",
                                   *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        ready, _, _ = select.select([self.p.stdout], [], [], 10 * SCALE)
        line = self.p.stdout.readline() if ready else ""
        m = re.search(r"on (http://127\.0\.0\.1:\d+)", line)
        if not m:
            self.p.kill()
            raise AssertionError("no API: %r %r" % (line, self.p.stderr.read()))
        self.url = m.group(1)

    def call(self, method, path, body=None, raw=None, agent="framespec-test"):
        """(status, parsed JSON or text or None)."""
        import urllib.error
        import urllib.request
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                            else None)
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"User-Agent": agent})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, text = r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode()
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, text

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        out, err = self.p.communicate(timeout=10 * SCALE)
        assert self.p.returncode == 0, (out, err)
        return out


def test_api_shapes_codes_and_errors(bin_dir, target):
    """Toxiproxy's status codes and JSON shapes (api.go, api_test.go), and bad input answered
    with its error shape, never a crash."""
    a = ApiProxy(bin_dir)
    st, p = a.call("POST", "/proxies", {"name": "e", "upstream": target.addr,
                                        "listen": "localhost:0"})
    assert st == 201 and p["name"] == "e" and p["enabled"] is True and p["toxics"] == [] and \
        re.match(r"127\.0\.0\.1:\d+$", p["listen"]), (st, p)
    assert a.call("POST", "/proxies", {"name": "e", "upstream": target.addr}) == \
        (409, {"error": "proxy already exists", "status": 409})
    assert a.call("POST", "/proxies", {"upstream": target.addr}) == \
        (400, {"error": "missing required field: name", "status": 400})
    st, t = a.call("POST", "/proxies/e/toxics", {"type": "frame_split", "stream": "upstream",
                                                 "attributes": {"at": "header", "byte": 2}})
    assert st == 200 and t == {"attributes": {"at": "header", "byte": 2, "every": 1, "pause": 1,
                                              "first": 0, "count": 0},
                               "name": "frame_split_upstream", "type": "frame_split",
                               "stream": "upstream", "toxicity": 1.0}, (st, t)
    assert a.call("POST", "/proxies/e/toxics", {"type": "frame_split", "stream": "upstream"})[0] \
        == 409
    for body, status, msg in [
            ({"type": "nosuch"}, 400, "invalid toxic type"),
            ({"type": "latency", "stream": "sideways"}, 400, "stream was invalid"),
            ({"type": "latency", "attributes": {"speed": 1}}, 400, "no attribute 'speed'"),
            ({"type": "latency", "attributes": {"latency": -5}}, 400, "latency's latency '-5'"),
            ({"type": "latency", "attributes": {"latency": 1.5}}, 400, "not a whole number"),
            ({"type": "latency", "toxicity": "high"}, 400, "toxicity must be a number")]:
        st, e = a.call("POST", "/proxies/e/toxics", body)
        assert st == status and msg in e["error"] and e["status"] == status, (body, st, e)
    for raw in [b"", b"{", b"[1,2]", b"\xff\xfe", b"{\"name\": 5}", b"null"]:
        st, e = a.call("POST", "/proxies", raw=raw)
        assert st == 400 and e["error"].startswith(("bad request body", "missing")), (raw, st, e)
    st, e = a.call("POST", "/proxies/e/toxics", raw=b"x" * (2 << 20))
    assert st == 413, (st, e)
    assert a.call("GET", "/proxies/nosuch") == (404, {"error": "proxy not found", "status": 404})
    assert a.call("GET", "/proxies/e/toxics/nosuch") == \
        (404, {"error": "toxic not found", "status": 404})
    assert a.call("GET", "/nosuch") == (404, "404 page not found\n")
    assert a.call("PUT", "/proxies")[0] == 405
    assert a.call("GET", "/proxies", agent="Mozilla/5.0")[0] == 403
    st, t = a.call("POST", "/proxies/e/toxics/frame_split_upstream", {"attributes": {"pause": 7}})
    assert st == 200 and t["attributes"]["pause"] == 7 and t["attributes"]["byte"] == 2, t
    st, p = a.call("POST", "/proxies/e", {"enabled": False})
    assert st == 200 and p["enabled"] is False and len(p["toxics"]) == 1, p
    st, p = a.call("GET", "/proxies")
    assert st == 200 and list(p) == ["e"] and p["e"]["enabled"] is False, p
    assert a.call("POST", "/reset") == (204, None)
    st, p = a.call("GET", "/proxies/e")
    assert p["enabled"] is True and p["toxics"] == [], p
    st, r = a.call("POST", "/populate", [{"name": "e", "upstream": target.addr,
                                          "listen": p["listen"]}, {"name": "f"}])
    assert (st, r["error"]) == (400, "missing required field: upstream at proxy 2"), r
    st, r = a.call("POST", "/populate", [{"name": "e", "upstream": target.addr,
                                          "listen": p["listen"]},
                                         {"name": "f", "upstream": target.addr}])
    assert st == 201 and [x["name"] for x in r["proxies"]] == ["e", "f"], r
    assert r["proxies"][0]["listen"] == p["listen"], "an unchanged proxy is left as it is"
    assert a.call("DELETE", "/proxies/f") == (204, None)
    st, v = a.call("GET", "/version")
    assert st == 200 and v["version"].startswith("framespec "), v
    a.stop()


@pytest.fixture(scope="module")
def node_client():
    """Toxiproxy's Node client (npm toxiproxy-node-client), installed once into the build
    directory from the npm registry (CI's machine reaches it; no npm is a failure: the test
    would check nothing)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    build = os.environ.get("FRAMESPEC_BUILD_DIR", os.path.join(root, "build"))
    prefix = os.path.join(build, "npm-toxiproxy")
    mod = os.path.join(prefix, "node_modules")
    if not os.path.exists(os.path.join(mod, "toxiproxy-node-client")):
        p = subprocess.run(["npm", "install", "--prefix", prefix, "--no-audit", "--no-fund",
                            "toxiproxy-node-client@4.1.0"], capture_output=True, text=True,
                           timeout=300)
        assert p.returncode == 0, "npm install toxiproxy-node-client: %s" % p.stderr[-2000:]
    return mod


def test_toxiproxy_node_client_drives_it_unchanged(bin_dir, target, node_client):
    """The npm client creates a proxy, adds and removes latency, reset_peer and a frame toxic;
    a plain client sees each effect (pytest/toxiproxy_client.js)."""
    a = ApiProxy(bin_dir)
    p = subprocess.run(["node", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                             "toxiproxy_client.js"), node_client, a.url,
                        target.addr], capture_output=True, text=True, timeout=120)
    out = a.stop()
    r = json.loads(p.stdout.strip().splitlines()[-1]) if p.stdout.strip() else {}
    assert p.returncode == 0 and "failed" not in r, (p.stdout, p.stderr, out)
    assert r["latency"]["ms"] >= 300 and r["frame_reset"]["got"] == 104, r


# ---- recording ----

def test_record_reproduces_what_the_server_saw_alone(bin_dir, make_target, tmp_path):
    """A plain client through the proxy, whose frame_coalesce toxic writes its two frames (sent
    100 ms apart) in one write, to mutant_one_read (one read taken as one frame): the recorded
    scenario (echo oracle) fails that server replayed alone and passes echod; its pcap imports
    back to the same steps."""
    mutant = make_target(binary="mutant_one_read")
    rec = tmp_path / "rec"
    px = Proxy(bin_dir, mutant.addr, "--toxic", "frame_coalesce:upstream:frames=2,wait=2000", "--record",
               str(rec), "--oracle", "echo")
    s = px.connect()
    s.sendall(frame(b"r" * 30))
    time.sleep(0.1)
    s.sendall(frame(b"s" * 30))
    got, how = read_until_close(s, limit=1)
    s.close()
    out, _ = px.stop()
    assert got == frame(b"r" * 30), "the mutant echoed %r" % got
    assert "recorded 1 connection in" in out, out
    scenario = rec / "framespec-1.scenario"
    text = scenario.read_text()
    assert 'c1 send frame "%s" frame "%s"\n' % ("r" * 30, "s" * 30) in text, text
    fs = os.path.join(bin_dir, "framespec")
    for binary, want in (("mutant_one_read", 1), ("echod", 0)):
        r = subprocess.run([fs, "replay", str(scenario), "--exec",
                            "%s --listen 127.0.0.1:{port}" % os.path.join(bin_dir, binary),
                            "--timeout-scale", str(SCALE)], capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == want, (binary, r.stdout, r.stderr, text)
    r = subprocess.run([fs, "import", str(rec / "framespec-1.pcap"), "--oracle", "echo"],
                       capture_output=True, text=True, timeout=60)
    steps = [line for line in text.splitlines() if not line.startswith("#")]
    assert r.returncode == 0 and \
        [line for line in r.stdout.splitlines() if not line.startswith("#")] == steps, r.stdout


def test_bad_proxy_options_are_refused(bin_dir, tmp_path):
    fs = os.path.join(bin_dir, "framespec")
    for args, why in [([], "give --listen"),
                      (["--listen", "127.0.0.1:0"], "give --listen"),
                      (["--listen", "127.0.0.1:0", "--upstream", "nowhere"], "--upstream"),
                      (["--api", "0", "--oracle", "psychic"], "expected capture, echo or close"),
                      (["--api", "0", "--max-conns", "0"], "--max-conns"),
                      (["--api", "0", "--bogus"], "unknown option")]:
        p = subprocess.run([fs, "proxy", *args], capture_output=True, text=True, timeout=10)
        assert p.returncode == 2 and why in p.stderr, (args, p.stderr)
    f = tmp_path / "file"
    f.write_text("")
    p = subprocess.run([fs, "proxy", "--api", "0", "--record", str(f)], capture_output=True,
                       text=True, timeout=10)
    assert p.returncode == 2 and "not a directory" in p.stderr, p.stderr
    p = subprocess.run([fs, "proxy", "--list-toxics"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0 and "frame_reset" in p.stdout and "after_frames=N" in p.stdout


def established(port):
    """Established TCP connections whose local port is `port` (ss)."""
    p = subprocess.run(["ss", "-Htn", "state", "established", "( sport = :%d )" % port],
                       capture_output=True, text=True, timeout=10)
    return len([line for line in p.stdout.splitlines() if line.strip()])


@pytest.mark.skipif(os.geteuid() != 0, reason="vanish closes in TCP_REPAIR mode: CAP_NET_ADMIN")
@pytest.mark.parametrize("server,released", [("echod", True), ("mutant_no_keepalive", False)])
def test_vanish_is_a_dead_peer_that_keepalive_finds(bin_dir, server, released):
    """After one echoed frame the proxy vanishes (no FIN, no RST: TCP_REPAIR): echod with
    --keepalive 1,1,2 probes, meets no socket, and releases the connection within seconds;
    mutant_no_keepalive (--keepalive accepted and ignored) holds it. No network namespace."""
    srv = fr_server(bin_dir, server)
    try:
        px = Proxy(bin_dir, srv[1], "--toxic", "vanish:downstream:after_frames=1")
        s = px.connect()
        s.sendall(frame(b"v" * 10))
        s.settimeout(5)
        assert s.recv(100) == frame(b"v" * 10)
        port = int(srv[1].split(":")[1])
        deadline = time.monotonic() + 8 * SCALE
        while time.monotonic() < deadline and established(port) > 0:
            time.sleep(0.2)
        left = established(port)
        s.close()
        out, err = px.stop()
        assert "TCP_REPAIR" not in err, err
        assert (left == 0) == released, "%d connection(s) of %s still established after 8 s" % (
            left, server)
    finally:
        srv[0].kill()
        srv[0].wait()


def fr_server(bin_dir, name):
    """(process, address) of `name` with --keepalive 1,1,2 on a free port."""
    port = free_port()
    p = subprocess.Popen([os.path.join(bin_dir, name), "--listen", "127.0.0.1:%d" % port,
                          "--keepalive", "1,1,2"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.02)
    return p, "127.0.0.1:%d" % port


def test_a_frame_toxic_added_mid_stream_knows_where_frames_are(bin_dir):
    """Frames are followed from the first byte, toxic or not: frame_split added (over the API)
    while a header is half sent splits that frame at its real header/payload boundary."""
    peer = Peer()
    a = ApiProxy(bin_dir)
    st, p = a.call("POST", "/proxies", {"name": "m", "upstream": peer.addr})
    assert st == 201, p
    s = socket.create_connection(("127.0.0.1", int(p["listen"].split(":")[1])), timeout=10)
    b = frame(b"b" * 50)
    s.sendall(frame(b"a" * 20) + b[:2])
    time.sleep(0.3 * SCALE)
    st, t = a.call("POST", "/proxies/m/toxics", {"type": "frame_split", "stream": "upstream",
                                                 "attributes": {"pause": 300}})
    assert st == 200, t
    s.sendall(b[2:])
    time.sleep(0.8 * SCALE)
    s.close()
    peer.done.wait(10)
    a.stop()
    assert peer.chunks() == [frame(b"a" * 20) + b[:2], b[2:4], b"b" * 50], peer.events
