"""Dead peers in framespec's private network namespace (docs/spec.md DEADPEER-*): the deadpeer
cases pass echod and baseline_echod in every run, each new mutant fails the case meant for it in
every run, the options and skips say what is missing, and nothing is left behind: no process, no
network namespace, no nftables table, not even when framespec is interrupted with SIGINT or a
case process is killed.

Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) and nft (Debian nftables): without them the tests that
need a namespace are skipped, saying so (pytest -rs), and the skip reasons are checked instead.
FRAMESPEC_DEADPEER_RUNS (default 3) sets --repeat of the teeth checks."""
import json
import os
import re
import shutil
import signal
import subprocess
import time
import uuid

import pytest

from hostile_util import MARK_ENV, framespec_path, reap_marked, run_fs
from mutant_list import mutants

RUNS = int(os.environ.get("FRAMESPEC_DEADPEER_RUNS", "3"))
SCALE = os.environ.get("FRAMESPEC_TIMEOUT_SCALE", "1")
PROMISE = ["--keepalive", "1,1,2", "--user-timeout", "3000"]
CAN_NETNS = os.geteuid() == 0 and shutil.which("nft", path=os.environ.get("PATH", "") +
                                                 ":/usr/sbin:/sbin") is not None
needs_netns = pytest.mark.skipif(not CAN_NETNS, reason="needs root and nft (Debian nftables) "
                                 "for framespec's network namespace")

# case -> the mutant with its bug class (baseline_echod.c; every deadpeer mutant of
# target/mutants.txt, test_every_deadpeer_mutant_has_a_case checks)
TEETH = {
    "deadpeer.idle": "no_keepalive",            # --keepalive accepted and ignored
    "deadpeer.pending": "no_user_timeout",      # --user-timeout accepted and ignored
    "deadpeer.alive_silent": "silence_is_death",  # keepalive as an app heartbeat: closes the living
    "deadpeer.middlebox_reset": "reset_parked",  # an ECONNRESET between frames parks the thread
}


def server(bin_dir, name, extra=""):
    return "%s --listen 127.0.0.1:{port} %s %s" % (os.path.join(bin_dir, name), " ".join(PROMISE),
                                                   extra)


def run(bin_dir, name, args, tmp_path, timeout=300):
    report = tmp_path / ("%s.json" % uuid.uuid4().hex)
    r = run_fs(["run", "--exec", server(bin_dir, name), "--timeout-scale", SCALE,
                "--json", str(report)] + PROMISE + args, timeout=timeout)
    rep = json.loads(report.read_text()) if report.exists() and report.stat().st_size else None
    return r, rep


def net_namespaces():
    """The network namespaces that some process is in (their /proc/PID/ns/net links)."""
    found = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                found.add(os.readlink("/proc/%s/ns/net" % pid))
            except OSError:
                pass
    return found


def host_state():
    """What framespec must not change outside its namespace: named namespaces, the ruleset."""
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    rules = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True).stdout
    return netns, rules


@needs_netns
@pytest.mark.parametrize("name", ["echod", "baseline_echod"])
def test_bug_free_servers_pass_every_deadpeer_case_every_run(bin_dir, tmp_path, name):
    r, rep = run(bin_dir, name, ["--case", "deadpeer.*", "--repeat", str(RUNS)], tmp_path,
                 timeout=60 * RUNS + 60)
    assert rep is not None, r.tail()
    status = {c["id"]: (c["status"], c["failures"], c["runs"]) for c in rep["cases"]}
    assert status == {c: ("pass", 0, RUNS) for c in TEETH}, (status, r.tail())
    assert r.rc == 0, r.tail()
    # the measured times to release, one TAP comment per run
    notes = re.findall(r"^# (deadpeer\.\w+)(?: \(run \d+\))?: (.*)$", r.stdout, re.M)
    for case, note in notes:
        print("deadpeer: %-8s %-26s %s" % (name, case, note))
    assert len(notes) == 4 * RUNS, r.stdout
    promised = {"deadpeer.idle": 3000, "deadpeer.pending": 3000}  # keepalive 1 + 1 x 2 s; 3000 ms
    for case, note in notes:
        m = re.match(r"c1: released after (\d+) ms", note)
        if m and case in promised:  # never before the server's timer can run out
            assert int(m.group(1)) >= promised[case] * 0.9 - 1000, note


def test_every_deadpeer_mutant_has_a_case():
    listed = {name for name, group, _ in mutants() if group == "deadpeer"}
    assert sorted(TEETH.values()) == sorted(listed), "TEETH and target/mutants.txt disagree"


@needs_netns
@pytest.mark.parametrize("case,mutant", sorted(TEETH.items()))
def test_each_mutant_fails_its_case_every_run(bin_dir, tmp_path, case, mutant):
    r, rep = run(bin_dir, "mutant_" + mutant, ["--case", case, "--repeat", str(RUNS)], tmp_path,
                 timeout=60 * RUNS + 60)
    (c,) = rep["cases"]
    print("deadpeer: %-28s mutant_%-18s %d of %d runs failed: %s" % (case, mutant, c["failures"],
                                                                    c["runs"], c["status"]))
    assert (c["status"], c["failures"], c["runs"]) == ("fail", RUNS, RUNS), (c, r.tail())
    assert r.rc == 1


@needs_netns
@pytest.mark.parametrize("mutant", ["no_keepalive", "no_user_timeout"])
def test_the_two_timeout_mutants_pass_the_rest_of_the_group(bin_dir, tmp_path, mutant):
    meant = {v: k for k, v in TEETH.items()}["%s" % mutant]
    r, rep = run(bin_dir, "mutant_" + mutant, ["--case", "deadpeer.*"], tmp_path)
    status = {c["id"]: c["status"] for c in rep["cases"]}
    assert status.pop(meant) == "fail", r.tail()
    assert set(status.values()) == {"pass"}, (status, r.tail())


@needs_netns
def test_without_a_promise_pending_reports_how_long_and_warns(bin_dir, tmp_path):
    # keepalive only: nothing releases a connection with data in flight before tcp_retries2
    report = tmp_path / "r.json"
    r = run_fs(["run", "--exec", "%s --listen 127.0.0.1:{port} --keepalive 1,1,2" %
                os.path.join(bin_dir, "echod"), "--keepalive", "1,1,2", "--case",
                "deadpeer.pending", "--timeout-scale", SCALE, "--json", str(report)], timeout=120)
    (c,) = json.loads(report.read_text())["cases"]
    assert (c["status"], c["level"]) == ("warn", "SHOULD"), r.tail()
    assert "still held after" in c["detail"] and "tcp_retries2" in c["detail"], c["detail"]
    assert r.rc == 0, r.tail()  # a warning does not fail the run (unless --strict)


@needs_netns
def test_loopback_and_existing_cases_run_unchanged_in_the_namespace(bin_dir, tmp_path):
    r, rep = run(bin_dir, "echod", ["--netns", "--case", "framing.*", "--case", "halfclose.*",
                                    "--case", "deadpeer.middlebox_reset"], tmp_path)
    assert "# network namespace: framespec's own" in r.stdout
    assert r.rc == 0, r.tail()
    status = {c["id"]: c["status"] for c in rep["cases"]}
    assert status.pop("deadpeer.middlebox_reset") == "pass", r.tail()
    assert set(status.values()) <= {"pass", "skip"} and "pass" in status.values(), status


@needs_netns
def test_loss_drops_packets_and_the_echo_contract_holds(bin_dir, tmp_path):
    # the whole suite at --loss 5 takes ~3.5 min (docs/spec.md); here a part that moves 64 MiB
    r, rep = run(bin_dir, "echod", ["--loss", "5", "--case", "framing.*", "--case",
                                    "halfclose.large_transfer", "--case", "latency.ping_pong"],
                 tmp_path)
    assert r.rc == 0, r.tail()
    status = {c["id"]: c["status"] for c in rep["cases"]}
    assert status["halfclose.large_transfer"] == "pass", status
    assert status["latency.ping_pong"] == "skip" and "not meaningful under --loss" in r.stdout
    dropped = re.search(r"^# --loss 5: nftables dropped (\d+) TCP packets", r.stdout, re.M)
    assert dropped and int(dropped.group(1)) > 0, r.stdout  # retransmissions really happened
    print("deadpeer: --loss 5 dropped %s packets" % dropped.group(1))


@needs_netns
def test_sigint_part_way_leaves_nothing_behind(bin_dir, tmp_path):
    before_ns, before_host = net_namespaces(), host_state()
    for attempt in range(3):
        # 1.5 s in: the peer has vanished (its rules are in place), the release not yet seen
        # the keeper stops the server when framespec dies: SIGTERM, SIGKILL 1 s later (echod's
        # lingering close waits for FINs that the drop rules swallow)
        r = run_fs(["run", "--exec", server(bin_dir, "echod"), "--case", "deadpeer.idle",
                    "--case", "deadpeer.pending"] + PROMISE, timeout=60, interrupt_after=1.5,
                   reap_wait=3)
        assert r.rc != 0 and not r.timed_out, r.tail()
        assert r.proc_leftovers == [] and r.tmp_leftovers == [], r.tail()
        time.sleep(0.2)
        assert net_namespaces() <= before_ns, "a network namespace outlived framespec"
        assert host_state() == before_host, "framespec changed the host's namespaces or rules"


def _children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


@needs_netns
def test_a_killed_case_process_leaves_no_rule_and_the_run_goes_on(bin_dir, tmp_path):
    before_ns, before_host = net_namespaces(), host_state()
    mark = uuid.uuid4().hex
    env = dict(os.environ, **{MARK_ENV: mark})
    out = tmp_path / "out.txt"
    # deadpeer.alive_silent (7 s, no rules of its own) runs after the killed deadpeer.idle
    cmd = [framespec_path(), "run", "--exec", server(bin_dir, "echod"), "--case", "deadpeer.idle",
           "--case", "deadpeer.alive_silent"] + PROMISE
    with open(out, "w") as o, open(os.devnull) as devnull:
        p = subprocess.Popen(cmd, stdout=o, stderr=subprocess.STDOUT, stdin=devnull, env=env,
                             start_new_session=True)
    try:
        # the case process: framespec's child that is not the server's keeper (whose child is echod)
        case_pid, deadline = None, time.monotonic() + 10
        while case_pid is None and time.monotonic() < deadline:
            time.sleep(0.05)
            for child in _children(p.pid):
                if not any(_comm(g) == "echod" for g in _children(child)) and \
                        _comm(child) == "framespec" and "network namespace" in out.read_text():
                    case_pid = child
        assert case_pid, out.read_text()
        time.sleep(1.0)  # the drop rules are in place now, in the case's own chain
        chain = "v%d" % case_pid
        drops = subprocess.run(["nsenter", "--net=/proc/%d/ns/net" % p.pid, "nft", "list", "chain",
                                "inet", "framespec", chain], capture_output=True, text=True)
        rule = re.compile(r"^\s*tcp sport \d+ tcp dport \d+ drop$", re.M)
        assert len(rule.findall(drops.stdout)) == 2, drops  # the rules that must go
        os.kill(case_pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while "not ok 1 - deadpeer.idle" not in out.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # deadpeer.alive_silent runs now, in the same namespace
        drops = subprocess.run(["nsenter", "--net=/proc/%d/ns/net" % p.pid, "nft", "list",
                                "table", "inet", "framespec"], capture_output=True, text=True)
        assert drops.returncode == 0 and "table inet framespec" in drops.stdout, drops
        assert chain not in drops.stdout and rule.findall(drops.stdout) == [], drops
        assert p.wait(timeout=60) == 1
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    text = out.read_text()
    assert "not ok 1 - deadpeer.idle" in text and "the case process killed by signal 9" in text, text
    assert re.search(r"^ok 2 - deadpeer\.alive_silent$", text, re.M), text
    assert reap_marked("%s=%s" % (MARK_ENV, mark), wait=0.5) == []
    assert net_namespaces() <= before_ns and host_state() == before_host


def test_deadpeer_cases_say_what_is_missing(bin_dir, tmp_path):
    # --target: framespec cannot move a running server into its namespace
    srv = subprocess.Popen([os.path.join(bin_dir, "echod"), "--listen", "127.0.0.1:0"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        addr = srv.stdout.readline().split()[-1]
        r = run_fs(["run", "--target", addr, "--case", "deadpeer.*"] + PROMISE, timeout=30)
    finally:
        srv.terminate()
        srv.wait()
    assert r.rc == 0, r.tail()
    assert r.stdout.count("# SKIP needs --exec: framespec starts the server inside its own "
                          "network namespace") == 4, r.stdout
    # no promise given: the cases that need one say which options
    if CAN_NETNS:
        r = run_fs(["run", "--exec", "%s --listen 127.0.0.1:{port}" % os.path.join(bin_dir, "echod"),
                    "--case", "deadpeer.idle", "--case", "deadpeer.alive_silent"], timeout=30)
        assert "SKIP no --keepalive or --idle-timeout given" in r.stdout, r.tail()
        assert "SKIP no --keepalive given" in r.stdout, r.tail()


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv to drop the capabilities")
def test_without_the_capabilities_they_skip_naming_them(bin_dir):
    drop = ["setpriv", "--inh-caps=-sys_admin,-net_admin", "--bounding-set=-sys_admin,-net_admin"]
    echod = "%s --listen 127.0.0.1:{port}" % os.path.join(bin_dir, "echod")
    p = subprocess.run(drop + [framespec_path(), "run", "--exec", echod, "--case", "deadpeer.*",
                               "--case", "framing.single"] + PROMISE,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.count("# SKIP needs CAP_SYS_ADMIN and CAP_NET_ADMIN") == 4, p.stdout
    assert "ok 1 - framing.single\n" in p.stdout  # the rest of the run goes on
    # asked for explicitly, it is an error (exit 2) naming the capability
    for opt in (["--netns"], ["--loss", "5"]):
        p = subprocess.run(drop + [framespec_path(), "run", "--exec", echod] + opt,
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 2 and "CAP_SYS_ADMIN" in p.stderr, (opt, p.stderr)


@pytest.mark.parametrize("args,words", [
    (["--keepalive", "1,1"], "invalid --keepalive '1,1'"),
    (["--keepalive", "0,1,1"], "invalid --keepalive"),
    (["--user-timeout", "3K"], "invalid --user-timeout '3K'"),
    (["--user-timeout", "0"], "invalid --user-timeout"),
    (["--loss", "0"], "invalid --loss '0'"),
    (["--loss", "50"], "invalid --loss"),
])
def test_bad_options_exit_2(bin_dir, args, words):
    p = subprocess.run([framespec_path(), "run", "--exec", "true {port}"] + args,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and words in p.stderr, p.stderr


@pytest.mark.parametrize("opt", [["--netns"], ["--loss", "5"]])
def test_netns_options_need_exec(bin_dir, opt):
    p = subprocess.run([framespec_path(), "run", "--target", "127.0.0.1:9"] + opt,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "needs --exec" in p.stderr, p.stderr


@pytest.mark.parametrize("name", ["echod", "baseline_echod"])
@pytest.mark.parametrize("value", ["0", "abc", "3K", "2147483648"])
def test_servers_reject_a_bad_user_timeout(bin_dir, name, value):
    p = subprocess.run([os.path.join(bin_dir, name), "--user-timeout", value],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "--user-timeout" in p.stderr, p.stderr


def test_echod_documents_user_timeout(bin_dir):
    p = subprocess.run([os.path.join(bin_dir, "echod"), "--help"], capture_output=True, text=True)
    assert "--user-timeout MS" in p.stdout and "TCP_USER_TIMEOUT" in p.stdout


# The scenario engine's steps for vanished peers (docs/replay.md): `vanish`, `vanish pending`,
# `middlebox-reset` and `expect released`, replayed in a namespace `framespec replay` enters
# itself. Each passes echod and fails the mutant that breaks that promise, at that step.
VANISH_STEPS = [
    ("idle", "no_keepalive", "c vanish\nc expect released within 4000\n"),
    ("pending", "no_user_timeout", "c vanish pending\nc expect released within 4000\n"),
    ("middlebox", "reset_parked", "c middlebox-reset\nc expect released within 2000\n"),
]


@needs_netns
@pytest.mark.parametrize("name,mutant,steps", VANISH_STEPS, ids=[v[0] for v in VANISH_STEPS])
def test_vanish_steps_replay_in_a_namespace(bin_dir, tmp_path, name, mutant, steps):
    before_ns, before_host = net_namespaces(), host_state()
    f = tmp_path / ("%s.scenario" % name)
    f.write_text("framing 4\nconnect c\nc send frame size:5\nc expect frame size:5 within 2000\n"
                 + steps + "c abort\nexpect server-alive\n")
    for binary, want in (("echod", 0), ("mutant_" + mutant, 1)):
        r = run_fs(["replay", str(f), "--exec", server(bin_dir, binary)], timeout=60)
        assert r.rc == want, (binary, r.tail())
        if want == 1:
            assert "FAIL %s:6: c expect released" % f in r.stdout, r.tail()
        assert r.proc_leftovers == [] and r.tmp_leftovers == [], r.tail()
    time.sleep(0.2)
    assert net_namespaces() <= before_ns, "a network namespace outlived framespec"
    assert host_state() == before_host, "framespec changed the host's namespaces or rules"


def test_vanish_steps_need_the_namespace(bin_dir, tmp_path, target):
    f = tmp_path / "v.scenario"
    f.write_text("connect c\nc vanish\nc expect released within 100\n")
    r = run_fs(["replay", str(f), "--target", target.addr], timeout=30)
    assert r.rc == 2 and "needs --exec" in r.stderr, r.tail()
    f.write_text("connect c\nc expect released within 100\n")
    r = run_fs(["replay", str(f), "--target", target.addr], timeout=30)
    assert r.rc == 2 and "needs its peer to vanish first" in r.stderr, r.tail()
    f.write_text("connect c\nc vanish\nc send frame size:1\n")
    r = run_fs(["replay", str(f), "--target", target.addr], timeout=30)
    assert r.rc == 2 and "vanished at line 2" in r.stderr, r.tail()


@needs_netns
@pytest.mark.skipif(SCALE != "1", reason="a 30 s campaign: the plain build runs it; the "
                    "sanitizer build replays the same steps (test_vanish_steps_replay_in_a_namespace)")
def test_fuzz_finds_a_server_that_keeps_vanished_peers(bin_dir, tmp_path):
    # --keepalive with --exec as root: the campaign runs in a namespace and peers vanish
    before_ns, before_host = net_namespaces(), host_state()
    r = run_fs(["fuzz", "--exec", server(bin_dir, "mutant_no_user_timeout"), "--seed", "1",
                "--seconds", "120", "--until", "DEADPEER-2", "--out", str(tmp_path),
                "--timeout-scale", SCALE] + PROMISE, timeout=400)
    assert r.rc == 1, r.tail()
    found = [n for n in os.listdir(tmp_path / "findings") if n.startswith("DEADPEER-2-")]
    assert found, (os.listdir(tmp_path / "findings"), r.tail())
    text = (tmp_path / "findings" / found[0]).read_text()
    assert "vanish pending" in text and "expect released within" in text, text
    time.sleep(0.2)
    assert net_namespaces() <= before_ns, "a network namespace outlived framespec"
    assert host_state() == before_host, "framespec changed the host's namespaces or rules"


@needs_netns
@pytest.mark.skipif(SCALE != "1", reason="a 30 s campaign: the plain build runs it")
def test_fuzz_with_an_idle_timeout_has_no_finding_on_echod(bin_dir, tmp_path):
    # seed 1's program 430 (worker 0 of 2): c1 waits while c2 vanishes, for as long as the idle
    # timeout; echod then rightly closes the quiet c1. The oracle once expected c1's echo after
    # it (a false SEGMENTATION-5 finding); now it closes c1 first, and the engine attributes
    # such a close to the idle timeout (inconclusive, never a finding)
    r = run_fs(["fuzz", "--exec", server(bin_dir, "echod", "--idle-timeout 1"), "--seed", "1",
                "--runs", "432", "--jobs", "2", "--idle-timeout", "1", "-v", "--out",
                str(tmp_path)] + PROMISE, timeout=300)
    assert r.rc == 0, r.tail()
    assert "0 new findings" in r.stdout, r.tail()
    assert "inconclusive" not in r.stdout + r.stderr, r.tail()
