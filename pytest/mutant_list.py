"""The mutant servers, read from target/mutants.txt (the one list: its header says who reads it).

Used by pytest/test_30_mutants.py and ci/scenario-matrix.py. Like target/CMakeLists.txt, it
refuses a malformed line, a name listed twice, and a list that disagrees with the MUTANT_<NAME>
macros of target/baseline_echod.c: a misspelt name raises, it is never skipped."""
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIST = os.path.join(ROOT, "target", "mutants.txt")
SOURCE = os.path.join(ROOT, "target", "baseline_echod.c")


# The deep mutants' group: meant for coverage guidance (`framespec fuzz --coverage afl`); no case
# group catches them, so the suite's tests and the matrix leave them out unless they ask.
COVERAGE = "coverage"


def mutants(coverage=False):
    """[(name, group, description)] in the file's order (the deep mutants only with coverage=True).
    Raises ValueError naming the problem."""
    return [(n, g, d) for n, g, _, d in mutants_with_framing(coverage)]


def mutant_framing(name):
    """The --framing a mutant is judged under: its GROUP@FRAMING, or "4"."""
    return {n: f for n, _, f, _ in mutants_with_framing(True)}[name]


def mutants_with_framing(coverage=False):
    """[(name, group, framing, description)]: framing is "4" unless the line says GROUP@FRAMING;
    the deep mutants (group coverage) only with coverage=True. The whole list is checked."""
    out = []
    with open(LIST) as f:
        for num, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            m = re.match(r"^([a-z0-9_]+)[ \t]+([a-z]+)(?:@([^ \t]+))?[ \t]+([^ \t].*)$", line)
            if m is None or ";" in line:
                raise ValueError("%s:%d: not NAME GROUP[@FRAMING] DESCRIPTION (no ';'): %r" % (
                    LIST, num, line))
            if m.group(1) in [n for n, _, _, _ in out]:
                raise ValueError("%s:%d: mutant %r is listed twice" % (LIST, num, m.group(1)))
            out.append((m.group(1), m.group(2), m.group(3) or "4", m.group(4).strip()))
    with open(SOURCE) as f:
        macros = set(re.findall(r"MUTANT_([A-Z0-9_]+)", f.read()))
    listed = {n.upper() for n, _, _, _ in out}
    if listed - macros:
        raise ValueError("%s: baseline_echod.c has no MUTANT_<NAME> for %s" % (
            LIST, ", ".join(sorted(n.lower() for n in listed - macros))))
    if macros - listed:
        raise ValueError("%s does not list %s (baseline_echod.c has MUTANT_<NAME> for them)" % (
            LIST, ", ".join(sorted(n.lower() for n in macros - listed))))
    return [m for m in out if coverage or m[1] != COVERAGE]
