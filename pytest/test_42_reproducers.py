"""Reproducer fidelity, for every in-tree mutant (target/mutants.txt): its group runs with
--repro-dir and --repeat, and every failing case's reproducer, replayed alone with the options its
command names (a flaky case's says --repeat K), fails the mutant under the requirement id the case
reported, and passes echod and baseline_echod. This is what makes a reproducer worth pasting into
a bug report: the case and its reproducer are the same steps, judged by the same engine
(docs/replay.md). The deadpeer mutants need root and nft, as pytest/test_60_deadpeer.py does; the
figure N/N is printed at the end (pytest -s), and by pytest/repro_fidelity.py as a script.

A reproducer that passes its mutant is a fidelity bug unless the case alone passes too (5 runs,
and its reproducer 5 runs): a failure that came from what ran beside the case (the group before
it, ctest's other tests on two cores: mutant eof_drops_queue drops its queue at EOF, which a
large transfer meets only when the reader falls behind) is reported as timing-dependent."""
import os
import shutil

import pytest

from mutant_list import mutants_with_framing
from repro_fidelity import check_mutant

ROWS = [(n, g, f) for n, g, f, _ in mutants_with_framing()]
CAN_NETNS = os.geteuid() == 0 and shutil.which("nft", path=os.environ.get("PATH", "") +
                                                 ":/usr/sbin:/sbin") is not None
TALLY = []


@pytest.fixture(scope="module", autouse=True)
def tally():
    yield
    good = sum(1 for _, _, ok, why in TALLY if ok and not why.startswith("timing"))
    timing = sum(1 for _, _, ok, why in TALLY if ok and why.startswith("timing"))
    print("\nreproducers: %d/%d fail their mutant alone (under the case's requirement) and pass "
          "echod and baseline_echod; %d timing-dependent (the case alone passes too)" % (
              good, len(TALLY), timing))


@pytest.mark.parametrize("name,group,framing", ROWS, ids=[r[0] for r in ROWS])
def test_every_reproducer_fails_its_mutant_alone(bin_dir, tmp_path, name, group, framing):
    if group == "deadpeer" and not CAN_NETNS:
        pytest.skip("the deadpeer group needs root and nft (Debian nftables)")
    rows = check_mutant(bin_dir, name, group, framing, str(tmp_path))
    for case, ok, why in rows:
        TALLY.append((name, case, ok, why))
        print("%-20s %-30s %s %s" % (name, case, "ok  " if ok else "FAIL", why))
    assert rows, "no case of group %s failed mutant_%s" % (group, name)
    assert [r for r in rows if not r[1]] == []
