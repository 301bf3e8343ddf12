"""echod's command line and lifecycle: unix socket listener, SIGTERM drain, bad options."""
import os
import signal
import socket
import subprocess

import pytest

import framing as fr


def test_unix_socket_listener(make_target, tmp_path):
    path = str(tmp_path / "echod.sock")
    t = make_target(listen="unix:" + path)
    assert t.addr == "unix:" + path
    wire = fr.encode("4", b"over a unix socket")
    with fr.connect(t.addr) as s:
        s.sendall(wire)
        assert fr.recv_exact(s, len(wire)) == wire
        s.shutdown(socket.SHUT_WR)
        assert fr.read_to_close(s)[1] == "eof"


def test_sigterm_drains_pending_echoes_and_exits_0(bin_dir):
    srv = fr.Server([os.path.join(bin_dir, "echod"), "--listen", "127.0.0.1:0"])
    wire = b"".join(fr.encode("4", fr.pattern(1000, i)) for i in range(100))
    s = fr.connect(srv.addr)
    s.sendall(wire)
    assert fr.recv_exact(s, 1004) == wire[:1004]  # the server has read at least the first frame
    srv.proc.send_signal(signal.SIGTERM)
    data, kind = fr.read_to_close(s, timeout=10)
    s.close()
    assert wire[1004:] == data
    assert kind == "eof"
    assert srv.stop() == 0


@pytest.mark.parametrize("args,names", [
    (["--framing", "5"], "--framing"),
    (["--max-frame", "lots"], "--max-frame"),
    (["--idle-timeout", "-1"], "--idle-timeout"),
    (["--keepalive", "1,2"], "--keepalive"),
    (["--bogus"], "--bogus"),
    (["--listen"], "--listen"),
])
def test_bad_option_exits_2_naming_it(bin_dir, args, names):
    p = subprocess.run([os.path.join(bin_dir, "echod")] + args, capture_output=True, text=True,
                       timeout=10)
    assert p.returncode == 2
    assert names in p.stderr, p.stderr
    assert p.stdout == ""


def test_listen_failure_is_reported(bin_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        p = subprocess.run([os.path.join(bin_dir, "echod"), "--listen", "127.0.0.1:%d" % port],
                           capture_output=True, text=True, timeout=10)
    assert p.returncode == 1
    assert "Address already in use" in p.stderr
