"""Reproducer fidelity: every reproducer a failing case hands the user fails alone.

For a mutant (target/mutants.txt) or a library peer: run the group (or the cases) with
--repro-dir and --repeat, then replay each failing case's reproducer alone, with the options its
repro_command names (a flaky case's says --repeat K): it must fail the server it came from
(exit 1) under the requirement id the case reported, and pass the bug-free servers (exit 0).

Used by pytest/test_42_reproducers.py and ci/matrix.py; run it as a script for the table:
    /usr/bin/python3 pytest/repro_fidelity.py build/bin [MUTANT...]
"""
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mutant_list import mutants_with_framing  # noqa: E402

SCALE = os.environ.get("FRAMESPEC_TIMEOUT_SCALE", "1")
# the servers' promises: the idle timeout for every group, keepalive and user timeout for the
# deadpeer group (as pytest/test_30_mutants.py and test_60_deadpeer.py run them)
IDLE = ["--idle-timeout", "1"]
DEADPEER = ["--keepalive", "1,1,2", "--user-timeout", "3000"]
RUNS = int(os.environ.get("FRAMESPEC_FIDELITY_RUNS", "3"))
ALONE = 5  # runs of a case alone, and of its reproducer, when the reproducer passed once


def promises(group):
    return DEADPEER if group == "deadpeer" else IDLE


def server_cmd(bin_dir, name, framing, group):
    return "%s --listen 127.0.0.1:{port} --framing '%s' %s" % (
        os.path.join(bin_dir, name), framing, " ".join(promises(group)))


def run_group(bin_dir, exec_cmd, framing, args, out_dir, runs=RUNS, timeout=1800):
    """framespec run --repeat runs with --repro-dir out_dir; returns (process, report)."""
    js = os.path.join(out_dir, "report.json")
    cmd = [os.path.join(bin_dir, "framespec"), "run", "--exec", exec_cmd, "--framing", framing,
           "--timeout-scale", SCALE, "--repeat", str(runs), "--repro-dir", out_dir,
           "--json", js] + args
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    rep = json.load(open(js)) if os.path.exists(js) and os.path.getsize(js) else None
    return p, rep


def replay_options(repro_command):
    """The options of a reproducer's command after its --exec/--target value (--repeat,
    --max-frame, --timeout-scale, --idle-timeout: without the server's idle timeout, a close it
    explains is not attributed to it, and a `before-idle` step can pass against the mutant it
    came from, as off_by_header's limits.over_max once did in a fresh-clone run)."""
    words = shlex.split(repro_command)
    out = []
    for i, w in enumerate(words):
        if w in ("--repeat", "--max-frame", "--timeout-scale", "--idle-timeout") and \
                i + 1 < len(words):
            out += [w, words[i + 1]]
    return out


def without(opts, flag):
    """opts without their `flag VALUE` pairs."""
    out, skip = [], False
    for o in opts:
        if skip:
            skip = False
        elif o == flag:
            skip = True
        else:
            out.append(o)
    return out


def without_repeat(opts):
    """opts without --repeat N: a bug-free server is replayed once."""
    return without(opts, "--repeat")


def replay(bin_dir, path, exec_cmd, options, timeout=900):
    cmd = [os.path.join(bin_dir, "framespec"), "replay", path, "--exec", exec_cmd] + options
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def violated(stdout):
    m = re.search(r"^  violated: (\S+)", stdout, re.M)
    return m.group(1) if m else None


def timing_dependent(bin_dir, exec_cmd, framing, args, case, path, opts, runs=ALONE):
    """A reproducer that passed the server it came from: a fidelity bug, unless the failure
    depended on what ran beside the case (its group before it, other tests on the machine) and
    not on its steps. Then the case alone passes too, as its reproducer does, `runs` runs each,
    and the reason is returned; otherwise None (the row fails)."""
    with tempfile.TemporaryDirectory() as d:
        js = os.path.join(d, "alone.json")
        cmd = [os.path.join(bin_dir, "framespec"), "run", "--exec", exec_cmd, "--framing",
               framing, "--timeout-scale", SCALE, "--repeat", str(runs), "--case", case,
               "--json", js] + without(args, "--case")
        subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        alone = json.load(open(js))["cases"][0] if os.path.exists(js) else None
    if alone is None or alone["status"] != "pass":
        return None
    again = replay(bin_dir, path, exec_cmd, without_repeat(opts) + ["--repeat", str(runs)])
    if again.returncode != 0:
        return None
    return ("timing-dependent: it failed beside its group only; the case alone and its "
            "reproducer both pass %d runs of %d" % (runs, runs))


def check_reproducers(bin_dir, exec_cmd, framing, args, good_cmds, out_dir, runs=RUNS):
    """Run, then replay every failing case's reproducer alone. Returns [(case, ok, why)] for the
    cases that failed (fail, warn or flaky), and the run's report."""
    p, rep = run_group(bin_dir, exec_cmd, framing, args, out_dir, runs)
    assert rep is not None, p.stdout[-3000:] + p.stderr[-3000:]
    rows = []
    for c in rep["cases"]:
        if c["status"] not in ("fail", "warn", "flaky"):
            continue
        path = os.path.join(out_dir, c["id"] + ".scenario")
        if c["repro"] is None or not os.path.exists(path):
            rows.append((c["id"], False, "no reproducer written"))
            continue
        opts = replay_options(c["repro_command"] or "")
        r = replay(bin_dir, path, exec_cmd, opts)
        why, timing = [], None
        if r.returncode == 0:
            timing = timing_dependent(bin_dir, exec_cmd, framing, args, c["id"], path, opts)
        if timing is not None:
            pass
        elif r.returncode != 1:
            why.append("replay exits %d against the server it came from" % r.returncode)
        elif violated(r.stdout) != c["violated"]:
            why.append("replay violates %s, the case %s" % (violated(r.stdout), c["violated"]))
        for good in good_cmds:
            g = replay(bin_dir, path, good, without_repeat(opts))
            if g.returncode != 0:
                why.append("replay exits %d against %s: %s" % (
                    g.returncode, good.split()[0].rsplit("/", 1)[-1], g.stdout.strip()[-300:]))
        rows.append((c["id"], not why, "; ".join(why) or "%s, passes %s" % (
            timing or "fails alone (%s)" % c["violated"],
            ", ".join(g.split()[0].rsplit("/", 1)[-1] for g in good_cmds))))
    return rows, rep


def check_mutant(bin_dir, name, group, framing, out_dir):
    """The group's run against the mutant (a deadpeer group once: the kernel's timers decide it,
    not a race), its reproducers replayed against the mutant, echod and baseline_echod."""
    good = [server_cmd(bin_dir, s, framing, group) for s in ("echod", "baseline_echod")]
    rows, _ = check_reproducers(bin_dir, server_cmd(bin_dir, "mutant_" + name, framing, group),
                                framing, ["--case", group + ".*"] + promises(group), good,
                                out_dir, 1 if group == "deadpeer" else RUNS)
    return rows


def main(argv):
    bin_dir = argv[1]
    want = set(argv[2:])
    total = good = 0
    whys = []
    for name, group, framing, _ in mutants_with_framing():
        if want and name not in want:
            continue
        if group == "deadpeer" and os.geteuid() != 0:
            print("%-20s skipped: the deadpeer group needs root" % name)
            continue
        with tempfile.TemporaryDirectory() as d:
            rows = check_mutant(bin_dir, name, group, framing, d)
        for case, ok, why in rows:
            total += 1
            good += ok
            whys.append(why)
            print("%-20s %-30s %s %s" % (name, case, "ok  " if ok else "FAIL", why), flush=True)
    timing = sum(1 for r in whys if r.startswith("timing"))
    print("%d/%d reproducers fail their mutant alone and pass echod and baseline_echod "
          "(%d more timing-dependent: the case alone passes too)" % (good - timing, total, timing))
    return 0 if good == total else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
