"""The scenario engine: the parser's script errors (exit 2, file:line:col, nothing leaked), the
grammar's newer steps, and `framespec fuzz` (determinism, findings that replay, usage errors)."""
import os
import re
import shlex
import subprocess

import pytest

from hostile_util import hostile_cmd

SCALE = os.environ.get("FRAMESPEC_TIMEOUT_SCALE", "1")


def fs(bin_dir, *args, timeout=120):
    return subprocess.run([os.path.join(bin_dir, "framespec")] + list(args), capture_output=True,
                          timeout=timeout)


def replay(bin_dir, path, server="echod", *extra):
    return fs(bin_dir, "replay", str(path), "--exec",
              "%s --listen 127.0.0.1:{port}" % os.path.join(bin_dir, server), *extra)


# The malformed scenarios of issue 13, each refused before anything runs.
BAD = [
    ("unknown-after-name", b"connect c1\nc1 fly\n", "2:4", b"unknown step 'fly' after the connection name 'c1'"),
    ("unterminated-escaped-quote", b"connect\nsend frame \"abc\\\"\n", "2:12", b"unterminated string"),
    ("nul-byte", b"connect\nsend frame \"ab\x00cd\"\n", "2:15", b"NUL byte"),
    ("close-then-send", b"connect c\nc close\nc send frame \"x\"\n", "3:1", b"was closed at line 2"),
    ("send-after-shut-wr", b"connect c\nc shutdown wr\nc send frame \"x\"\n", "3:1", b"shut down for writing at line 2"),
    ("connect-twice", b"connect c\nconnect c\n", "2:", b"already open"),
    ("framing-late", b"connect c\nframing 2\n", "2:1", b"before every other step"),
    ("bad-cut", b"connect c\nc send frame size:4 at 3,2\n", "2:", b"increasing byte offsets"),
    ("no-connection-name-for-sleep", b"c sleep 5\n", "1:1", b"takes no connection name"),
    ("ping-without-p90", b"connect c\nc ping frame size:4 x3 within 20\n", "2:", b"expected 'p90 within MS'"),
    ("ping-after-shut-wr", b"connect c\nc shutdown wr\nc ping frame \"x\" p90 within 20\n", "3:1", b"shut down for writing at line 2"),
    ("flood-without-at-most", b"connect c\nc flood frame size:4 within 100\n", "2:", b"expected 'at-most BYTES'"),
    ("flood-of-nothing", b"connect c\nc flood raw \"\" at-most 10 within 100\n", "2:", b"at least one byte"),
    ("prefix-without-then", b"connect c\nc expect prefix frame \"x\" within 5\n", "2:", b"then eof"),
    ("after-at-end", b"connect c\nexpect server-alive at-end\nc close\n", "3:1", b"nothing may follow"),
]


@pytest.mark.parametrize("name,text,where,msg", BAD, ids=[b[0] for b in BAD])
def test_script_errors_exit_2_cleanly(bin_dir, tmp_path, name, text, where, msg):
    f = tmp_path / ("%s.scenario" % name)
    f.write_bytes(text)
    p = replay(bin_dir, f)
    assert p.returncode == 2, p.stdout + p.stderr
    assert ("%s.scenario:%s" % (name, where)).encode() in p.stderr, p.stderr
    assert msg in p.stderr, p.stderr
    assert b"LeakSanitizer" not in p.stderr and b"ERROR: AddressSanitizer" not in p.stderr


def test_a_huge_bad_token_is_quoted_short(bin_dir, tmp_path):
    f = tmp_path / "big.scenario"
    f.write_bytes(b"connect c\nc send frame " + b"z" * (1 << 20) + b"\n")
    p = replay(bin_dir, f)
    assert p.returncode == 2
    assert b"big.scenario:2:14" in p.stderr
    assert len(p.stderr) < 1000, len(p.stderr)


def test_crlf_scenarios_parse(bin_dir, tmp_path):
    f = tmp_path / "crlf.scenario"
    f.write_bytes(b"framing 4\r\nconnect c\r\nc send frame \"hi\"\r\nc expect frame \"hi\" within 5000\r\n")
    p = replay(bin_dir, f)
    assert p.returncode == 0, p.stdout + p.stderr


def test_new_steps_against_echod(bin_dir, tmp_path):
    f = tmp_path / "new.scenario"
    f.write_text("framing 4\nconnect a\nconnect b\n"
                 "a stop-reading\n"
                 "a send frame size:300 frame \"\" frame hex:00ff x3 at 1,2,300 pause 1\n"
                 "b send frame text:40 by 3\n"
                 "a resume-reading\n"
                 "a expect frame size:300 frame \"\" frame hex:00ff x3 within 5000\n"
                 "b expect frame text:40 within 5000\n"
                 "b shutdown wr\nb expect eof within 5000\nb close\na abort\n"
                 "expect server-alive\nexpect server-released within 5000\n")
    p = replay(bin_dir, f)
    assert p.returncode == 0, p.stdout + p.stderr
    # the same script against a mutant that closes on a zero-length frame fails
    p = replay(bin_dir, f, "mutant_close_on_zero")
    assert p.returncode == 1 and b"FAIL" in p.stdout, p.stdout + p.stderr


def test_a_fill_that_meets_the_servers_reset_ends_and_what_follows_judges(bin_dir, tmp_path):
    # a peer that does not read fills until the server stops taking bytes; a server that resets
    # it instead (hostile.py rstmib, after 1 MiB) ends the fill without failing it: another
    # connection is still served, and only an expect on the reset one fails
    text = ("framing 4\nconnect a\na stop-reading\na send frame size:65536 x4096\n"
            "connect b\nb send frame size:16\nb expect frame size:16 within 5000\nb close\n")
    f = tmp_path / "fill.scenario"
    f.write_text(text + "a abort\n")
    p = fs(bin_dir, "replay", str(f), "--exec", hostile_cmd("rstmib"), "--timeout", "60")
    assert p.returncode == 0, p.stdout + p.stderr
    f.write_text(text + "a resume-reading\na expect frame size:65536 x64 within 5000\n")
    p = fs(bin_dir, "replay", str(f), "--exec", hostile_cmd("rstmib"), "--timeout", "60")
    assert p.returncode == 1, p.stdout + p.stderr
    assert ("FAIL %s:10:" % f).encode() in p.stdout, p.stdout


def test_server_alive_at_end_runs_after_a_failure_and_a_death_outranks_it(bin_dir, tmp_path):
    # the SIGPIPE trap on c (frames and FIN in one segment), then a step that fails on d: echod
    # fails there only; a server that dies by SIGPIPE fails the last step, after that failure
    f = tmp_path / "end.scenario"
    f.write_text("framing 4\nconnect c\nc cork\nc send frame size:16 x2\nc close\nconnect d\n"
                 "d send frame size:1\nd expect frame size:2 within 100\n"
                 "expect server-alive at-end  # RESOURCES-1\n")
    p = replay(bin_dir, f)
    assert p.returncode == 1, p.stdout + p.stderr
    assert ("FAIL %s:8:" % f).encode() in p.stdout, p.stdout
    p = replay(bin_dir, f, "mutant_sigpipe")
    assert p.returncode == 1, p.stdout + p.stderr
    assert ("FAIL %s:9: expect server-alive at-end" % f).encode() in p.stdout, p.stdout
    assert b"violated: RESOURCES-1" in p.stdout, p.stdout


# Each of the engine's measuring steps, against echod (holds) and against the mutant it exists
# for (fails at that step): ping (LATENCY-1), flood with a given bound and with the kernel's
# (BACKPRESSURE-1), SIGTERM to a server that stopped reading a flood, and to one whose peer is
# busy sending and reading (LIFECYCLE-2), a restart on the same port (LIFECYCLE-1), the alive
# probe after a close that makes a SIGPIPE-prone server die (RESET-5), resident memory under a
# peer that does not read (BACKPRESSURE-4), and a flood then SHUT_WR whose echoes the server
# still holds when it reads the FIN (HALFCLOSE-5).
STEP_TEETH = [
    ("ping", "split_write",
     "connect c\nc ping frame size:16 x10 p90 within 20\nc close\n", 2),
    ("flood", "unbounded",
     "connect c\nc flood frame size:65536 at-most 200M within 30000\nc close\n", 2),
    ("term", "sigterm_exit",
     "connect c\nc send frame size:5\nc expect frame size:5 within 5000\n"
     "c flood frame size:4096 at-most 200M then term within 30000\nc close\nserver stop\n"
     "server start new-port\nexpect server-alive\n", 4),
    ("restart", "no_reuseaddr",
     "connect c\nc send frame size:5\nc expect frame size:5 within 5000\nserver term\n"
     "c expect eof within 5000\nc close\nserver stop\nserver start same-port\n"
     "expect server-alive\n", 8),
    ("alive", "sigpipe",
     "connect c\nc cork\nc send frame size:16 x2\nc close\nsleep 50\nexpect server-alive\n", 6),
    ("flood-kernel", "unbounded",
     "connect c\nc flood frame size:65536 at-most kernel within 30000\nc close\n", 2),
    ("stream-term", "sigterm_exit",
     "connect c\nc stream frame size:1024 then term after 200 within 15000\nc close\n"
     "server stop\nserver start new-port\nexpect server-alive\n", 2),
    ("memory", "unbounded",
     "connect c\nc send frame size:65536\nc expect frame size:65536 within 5000\nc stop-reading\n"
     "c send frame size:65536 x2560\nexpect server-memory at-most 64M\nc abort\n", 6),
    ("flood-then-shutdown", "eof_drops_queue",
     "connect c\nc flood frame size:65536 at-most 200M then shutdown within 30000\n", 2),
]


@pytest.mark.parametrize("name,mutant,text,line", STEP_TEETH, ids=[t[0] for t in STEP_TEETH])
def test_measuring_steps_have_teeth(bin_dir, tmp_path, name, mutant, text, line):
    f = tmp_path / ("%s.scenario" % name)
    f.write_text("framing 4\n" + text)
    p = replay(bin_dir, f, "echod", "--timeout", "60")
    assert p.returncode == 0, p.stdout + p.stderr
    p = replay(bin_dir, f, "mutant_" + mutant, "--timeout", "60")
    assert p.returncode == 1, p.stdout + p.stderr
    assert ("FAIL %s:%d:" % (f, line + 1)).encode() in p.stdout, p.stdout


def test_before_idle_tells_a_refusal_from_an_idle_timeout(bin_dir, tmp_path):
    """`expect closed ... before-idle`: a server that waits for the payload of an oversized
    header and times the connection out passes a long `within`, but not with before-idle; a
    server that refuses passes both. limits.over_max's reproducer carries --idle-timeout and
    fails alone."""
    plain = "framing 4\nconnect c\nc send raw hex:01000001 raw size:512\n" \
            "c expect closed within 3000%s\nc close\n"
    f = tmp_path / "plain.scenario"
    f.write_text(plain % "")
    g = tmp_path / "refusal.scenario"
    g.write_text(plain % " before-idle")
    idle = ("--idle-timeout", "1")
    srv = lambda name: "%s --listen 127.0.0.1:{port} --idle-timeout 1" % os.path.join(bin_dir, name)
    for path, server, rc in ((f, "mutant_no_max_check", 0), (g, "mutant_no_max_check", 1),
                             (f, "echod", 0), (g, "echod", 0)):
        p = fs(bin_dir, "replay", str(path), "--exec", srv(server), *idle)
        assert p.returncode == rc, (path.name, server, p.stdout + p.stderr)
    p = fs(bin_dir, "replay", str(g), "--exec", srv("mutant_no_max_check"), *idle)
    assert b"not by the server's idle timeout" in p.stdout and b"LIMITS" not in p.stderr, p.stdout
    assert b"explains this FIN" in p.stdout, p.stdout
    p = fs(bin_dir, "run", "--exec", srv("mutant_no_max_check"), *idle, "--case",
           "limits.over_max", "--timeout-scale", "3", "--repro-dir", str(tmp_path))
    assert p.returncode == 1, p.stdout + p.stderr
    cmd = re.search(rb"repro_command: \"framespec (replay .*?)\"\n", p.stdout)
    assert cmd and b" --idle-timeout 1 " in cmd.group(1) + b" ", p.stdout
    args = shlex.split(cmd.group(1).decode())
    assert "before-idle" in (tmp_path / "limits.over_max.scenario").read_text()
    q = fs(bin_dir, *args)
    assert q.returncode == 1 and b"not by the server's idle timeout" in q.stdout, q.stdout
    args[args.index("--exec") + 1] = srv("echod")
    q = fs(bin_dir, *args)
    assert q.returncode == 0, q.stdout + q.stderr


def test_server_released_needs_exec(bin_dir, tmp_path, target):
    f = tmp_path / "r.scenario"
    f.write_text("connect c\nc close\nexpect server-released within 100\n")
    p = fs(bin_dir, "replay", str(f), "--target", target.addr)
    assert p.returncode == 2 and b"needs --exec" in p.stderr, p.stderr


def test_server_released_sees_a_leak(bin_dir, tmp_path):
    f = tmp_path / "leak.scenario"
    f.write_text("connect c\nc send frame \"x\"\nc expect frame \"x\" within 5000\nc close\n"
                 "expect server-released within 1000\n")
    assert replay(bin_dir, f).returncode == 0
    p = replay(bin_dir, f, "mutant_fd_leak")
    assert p.returncode == 1 and b"descriptors open" in p.stdout, p.stdout


def fuzz(bin_dir, tmp_path, server, *extra, timeout=300):
    return fs(bin_dir, "fuzz", "--exec", "%s --listen 127.0.0.1:{port} --max-frame 65536"
              % os.path.join(bin_dir, server), "--max-frame", "65536", "--out", str(tmp_path),
              "--timeout-scale", SCALE, *extra, timeout=timeout)


@pytest.mark.parametrize("concurrency", ["1", "32"])
def test_fuzz_echod_has_no_finding_and_is_deterministic(bin_dir, tmp_path, concurrency):
    """No finding against echod, one program at a time or many at once. The same seed runs the
    same programs (program i comes from the seed and i alone): one at a time, the engine's log
    of two runs is the same, step for step (many at once, the lanes' logs interleave)."""
    runs = []
    verbose = ["-vv"] if concurrency == "1" else []
    for k in range(2):
        p = fuzz(bin_dir, tmp_path / str(k), "echod", "--runs", "150", "--seed", "11",
                 "--concurrency", concurrency, *verbose)
        # the summary (stdout) says why a campaign without a finding file exits 1 (a server
        # death beside other programs)
        assert p.returncode == 0, p.stdout + p.stderr[-3000:]
        assert re.search(rb"150 programs .* x %s at once; 0 new findings" % concurrency.encode(),
                         p.stdout), p.stdout
        runs.append(re.findall(rb"\] line 0: (.*)", p.stderr))
    if concurrency == "1":
        assert len(runs[0]) > 150 and runs[0] == runs[1]


@pytest.mark.parametrize("mutant,req", [("close_on_zero", "FRAMING-2"),
                                        ("rst_close", "HALFCLOSE-1")])
def test_fuzz_finds_shrinks_and_replays(bin_dir, tmp_path, mutant, req):
    p = fuzz(bin_dir, tmp_path, "mutant_" + mutant, "--seconds", "60", "--seed", "1",
             "--until", req)
    assert p.returncode == 1, p.stderr[-3000:]
    found = [f for f in os.listdir(tmp_path / "findings") if f.startswith(req + "-")]
    # --until stops at the first CONFIRMED finding; one written before it that its replays did
    # not confirm 3 of 3 (rst_close's RST can overtake its echoes: "short-RST" or "RST") is
    # kept and marked flaky, and fuzzing went on (docs/fuzzing.md)
    texts = {f: (tmp_path / "findings" / f).read_text() for f in found}
    confirmed = [f for f in found if "in 3 of 3 replays" in texts[f]]
    assert len(confirmed) == 1, texts
    assert all("(flaky)" in texts[f] for f in found if f not in confirmed), texts
    path = tmp_path / "findings" / confirmed[0]
    text = path.read_text()
    assert "# framespec fuzz finding: %s (MUST)" % req in text
    assert "in 3 of 3 replays" in text, text
    assert len([l for l in text.splitlines() if l and not l.startswith("#")]) <= 12, text
    assert os.listdir(tmp_path / "corpus"), "a finding's program joins the corpus"
    server = "%s --listen 127.0.0.1:{port} --max-frame 65536"
    for binary, want in (("mutant_" + mutant, 1), ("echod", 0)):
        r = fs(bin_dir, "replay", str(path), "--max-frame", "65537", "--exec",
               server % os.path.join(bin_dir, binary))
        assert r.returncode == want, (binary, r.stdout, r.stderr, text)


def test_fuzz_beside_others_a_descriptor_leak_is_found_by_an_audit(bin_dir, tmp_path):
    """Many programs at once are derived without `expect server-released` (the server's
    descriptors are everyone's): a server that parks a thread, holding its descriptor, after an
    RST between frames is found by the drained audit, which runs the last programs alone; the
    finding replays alone against the mutant (fails) and echod (passes)."""
    p = fuzz(bin_dir, tmp_path, "mutant_reset_parked", "--seconds", "120", "--seed", "1",
             "--until", "RESET-4", "--concurrency", "32", timeout=400)
    assert p.returncode == 1, p.stderr[-3000:]
    assert re.search(rb"x 32 at once; 1 new finding", p.stdout), p.stdout
    assert re.search(rb"[1-9][0-9]* descriptor audits? of the server", p.stdout), p.stdout
    found = [f for f in os.listdir(tmp_path / "findings") if f.startswith("RESET-4-")]
    assert len(found) == 1, os.listdir(tmp_path / "findings")
    server = "%s --listen 127.0.0.1:{port} --max-frame 65536"
    for binary, want in (("mutant_reset_parked", 1), ("echod", 0)):
        r = fs(bin_dir, "replay", str(tmp_path / "findings" / found[0]), "--max-frame", "65537",
               "--exec", server % os.path.join(bin_dir, binary))
        assert r.returncode == want, (binary, r.stdout, r.stderr)


@pytest.mark.parametrize("args,msg", [
    (["--target", "127.0.0.1:1", "--exec", "x"], b"exactly one of --target and --exec"),
    (["--exec", "x", "--jobs", "2"], b"needs {port}"),
    (["--exec", "x {port}", "--runs", "5", "--seconds", "5"], b"--seconds or --runs"),
    (["--target", "127.0.0.1:1"], b"cannot connect"),
    (["--exec", "x {port}", "--framing", "5"], b"--framing"),
    (["--exec", "x {port}", "--concurrency", "0"], b"--concurrency"),
    (["--exec", "x {port}", "--concurrency", "1025"], b"--concurrency"),
    (["--exec", "x {port}", "--idle-timeout", "0"], b"--idle-timeout"),
])
def test_fuzz_usage_errors_exit_2(bin_dir, tmp_path, args, msg):
    p = fs(bin_dir, "fuzz", "--out", str(tmp_path), *args)
    assert p.returncode == 2 and msg in p.stderr, p.stderr


def test_fuzz_should_findings_warn_and_the_corpus_is_read_back(bin_dir, tmp_path):
    # seed 3 against close_on_zero: the first violation is of LIMITS-4, a SHOULD (the echo of a
    # zero-length frame owed before an oversized header): a warning, exit 0
    # (one program at a time: which violation comes first is the point here)
    p = fuzz(bin_dir, tmp_path, "mutant_close_on_zero", "--seconds", "60", "--seed", "3",
             "--max-findings", "1", "--concurrency", "1")
    assert p.returncode == 0, p.stderr[-3000:]
    assert b"1 new finding (1 SHOULD)" in p.stdout, p.stdout
    (name,) = os.listdir(tmp_path / "findings")
    assert name.startswith("LIMITS-4-")
    assert "(SHOULD)" in (tmp_path / "findings" / name).read_text()
    # the next campaign in DIR reads its corpus; the same signature is not written twice
    p = fuzz(bin_dir, tmp_path, "mutant_close_on_zero", "--runs", "50", "--seed", "3",
             "--concurrency", "1")
    assert b"corpus: 1 programs" in p.stderr, p.stderr[-2000:]
    assert os.listdir(tmp_path / "findings").count(name) == 1
