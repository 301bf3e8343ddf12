"""The catalogue: stable ids, every requirement of docs/spec.md checked, docs/cases.md current."""
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def listing(bin_dir, *args):
    return subprocess.run([os.path.join(bin_dir, "framespec"), "list"] + list(args),
                          capture_output=True, text=True, timeout=30, check=True).stdout


def spec_levels():
    """{requirement id: "MUST" | "SHOULD"} from docs/spec.md ("MUST NOT" counts as MUST)."""
    spec = open(os.path.join(ROOT, "docs", "spec.md")).read()
    return {i: ("SHOULD" if lvl == "SHOULD" else "MUST")
            for i, lvl in re.findall(r"\*\*([A-Z]+-\d+)\*\* \((MUST NOT|MUST|SHOULD)\)", spec)}


def test_every_requirement_has_a_case(bin_dir):
    spec = open(os.path.join(ROOT, "docs", "spec.md")).read()
    reqs = set(re.findall(r"\*\*([A-Z]+-\d+)\*\*", spec))
    assert len(reqs) >= 30
    assert set(spec_levels()) == reqs, "every requirement states its level: (MUST) or (SHOULD)"
    covered = set()
    for line in listing(bin_dir).splitlines():
        covered.update(line.split()[2].split(","))
    assert reqs - covered == set(), "requirements without a case"
    assert covered - reqs == set(), "cases naming unknown requirements"


def test_requirement_levels_match_the_spec(bin_dir):
    table = dict(l.split() for l in listing(bin_dir, "--requirements").splitlines())
    assert table == spec_levels(), "harness/spec.c and docs/spec.md disagree on levels"


def test_case_level_is_must_when_any_requirement_is(bin_dir):
    levels = spec_levels()
    seen = set()
    for line in listing(bin_dir).splitlines():
        case_id, level, reqs = line.split()[:3]
        want = "MUST" if any(levels[r] == "MUST" for r in reqs.split(",")) else "SHOULD"
        assert level == want, (case_id, level, reqs)
        seen.add(level)
    assert seen == {"MUST", "SHOULD"}


def test_ids_are_group_dot_name(bin_dir):
    groups = {"framing", "segmentation", "limits", "halfclose", "reset", "idle", "backpressure",
              "concurrency", "latency", "resources", "lifecycle", "deadpeer"}
    ids = [l.split()[0] for l in listing(bin_dir).splitlines()]
    assert len(ids) == len(set(ids))
    assert {i.split(".")[0] for i in ids} == groups


def test_docs_cases_md_is_generated_from_the_catalogue(bin_dir):
    with open(os.path.join(ROOT, "docs", "cases.md")) as f:
        assert f.read() == listing(bin_dir, "--markdown"), \
            "docs/cases.md is stale: build/bin/framespec list --markdown > docs/cases.md"
