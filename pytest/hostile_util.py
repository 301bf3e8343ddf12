"""Measure one framespec command: exit status, output, wall time, peak RSS, and what it left
behind (entries in its private TMPDIR, processes that carry its marker).

Every run gets a fresh private TMPDIR and a unique FRAMESPEC_HOSTILE_MARK=<uuid> in its
environment; every process it starts inherits the marker (unless it scrubs its environment), so
after the run /proc/*/environ tells which of its descendants are still alive, even those that
left its process group or session (a daemonizing server).
"""
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MARK_ENV = "FRAMESPEC_HOSTILE_MARK"
PYTHON = "/usr/bin/python3"


def framespec_path():
    build = os.environ.get("FRAMESPEC_BUILD_DIR", os.path.join(ROOT, "build"))
    return os.path.join(build, "bin", "framespec")


def hostile_cmd(mode, extra=""):
    """The --exec command that starts hostile.py in `mode` on framespec's {port}."""
    cmd = "%s %s %s {port} --lifetime 60" % (PYTHON, shlex.quote(os.path.join(HERE, "hostile.py")),
                                              mode)
    return cmd + (" " + extra if extra else "")


def procs_with_env(entry, exclude=()):
    """[(pid, cmdline)] of the processes whose initial environment holds `entry` ('K=V')
    exactly. Unreadable, vanished and zombie processes (empty environ) are skipped."""
    want = entry.encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in exclude:
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as f:
                env = f.read()
            if want not in env.split(b"\0"):
                continue
            with open("/proc/%s/cmdline" % name, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        found.append((int(name), cmd))
    return found


def vm_hwm_kib(pid):
    """framespec's own peak resident set so far (VmHWM of /proc/PID/status, KiB; 0 when gone).
    Sampled while it runs: ru_maxrss from wait4 is only an upper bound, as Linux keeps the
    forking parent's (pytest's) high-water mark across exec and adds waited-for descendants."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def reap_marked(entry, wait=0.5, exclude=()):
    """Wait up to `wait` s for the processes carrying `entry` to go; SIGKILL those that stay and
    return them as [(pid, cmdline)]."""
    deadline = time.monotonic() + wait
    while True:
        left = procs_with_env(entry, exclude)
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    sigkill_all(left)
    return left


def sigkill_all(procs):
    """SIGKILL each (pid, cmdline) of procs; those already gone are ignored."""
    for pid, _ in procs:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


class FsResult:
    def __init__(self, **kw):
        self.__dict__.update(kw)

    def tail(self, n=3000):
        """The ends of stdout and stderr, for assertion messages."""
        return "rc=%s wall=%.2fs rss<=%.1fMiB timed_out=%s\n--- stdout (tail) ---\n%s\n" \
               "--- stderr (tail) ---\n%s\n--- tmp_leftovers: %s\n--- proc_leftovers: %s" % (
                   self.rc, self.wall, self.rss_mib, self.timed_out, self.stdout[-n:],
                   self.stderr[-n:], self.tmp_leftovers, self.proc_leftovers)

    def __repr__(self):
        return "FsResult(%s)" % self.tail(600)


def run_fs(args, timeout, env_extra=None, keep_tmp=False, interrupt_after=None, reap_wait=0.5):
    """Run framespec with `args`, kill its process group after `timeout` s. Returns an FsResult:
    rc, stdout, stderr, wall (s), rss_mib (ru_maxrss of wait4: an upper bound of framespec's peak
    that includes its waited-for descendants and pytest's own size at fork), hwm_mib (framespec's
    own VmHWM, sampled every 20 ms while it runs), timed_out, tmpdir, tmp_leftovers (sorted names left
    in the private TMPDIR), proc_leftovers ([(pid, cmdline)] still alive with the marker; they
    have been SIGKILLed). The private TMPDIR is removed unless keep_tmp. interrupt_after=S sends
    SIGINT to framespec alone (not its group) after S seconds. Marked processes get reap_wait s
    to go on their own before they count as left behind."""
    tmpdir = tempfile.mkdtemp(prefix="hostile-tmpdir-")
    mark = uuid.uuid4().hex
    env = dict(os.environ)
    env.update(env_extra or {})
    env["TMPDIR"] = tmpdir
    env[MARK_ENV] = mark
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # unlinked: nothing to leak
    assert os.access(framespec_path(), os.X_OK), (
        "no %s: build first, or set FRAMESPEC_BUILD_DIR" % framespec_path())
    try:
        with open(os.devnull, "rb") as devnull:
            t0 = time.monotonic()
            proc = subprocess.Popen([framespec_path()] + [str(a) for a in args], stdin=devnull,
                                    stdout=out, stderr=err, env=env, start_new_session=True)
        timed_out = False
        deadline = t0 + timeout
        hwm_kib = 0
        while True:
            hwm_kib = max(hwm_kib, vm_hwm_kib(proc.pid))
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if interrupt_after is not None and time.monotonic() >= t0 + interrupt_after:
                os.kill(proc.pid, signal.SIGINT)
                interrupt_after = None
            if time.monotonic() >= deadline:
                timed_out = True
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                _, status, ru = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        wall = time.monotonic() - t0
        rc = os.waitstatus_to_exitcode(status)
        proc.returncode = rc  # reaped by wait4: tell Popen so it does not try again
        proc_leftovers = reap_marked("%s=%s" % (MARK_ENV, mark), wait=reap_wait)
        tmp_leftovers = sorted(os.listdir(tmpdir))
        out.seek(0)
        err.seek(0)
        return FsResult(rc=rc, stdout=out.read().decode(errors="replace"),
                        stderr=err.read().decode(errors="replace"), wall=wall,
                        rss_mib=ru.ru_maxrss / 1024.0, hwm_mib=hwm_kib / 1024.0,
                        timed_out=timed_out, tmpdir=tmpdir,
                        tmp_leftovers=tmp_leftovers, proc_leftovers=proc_leftovers, mark=mark)
    finally:
        out.close()
        err.close()
        if not keep_tmp:
            shutil.rmtree(tmpdir, ignore_errors=True)
