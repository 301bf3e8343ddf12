"""The catalogue: stable ids, every requirement of docs/spec.md checked, docs/cases.md current."""
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def listing(bin_dir, *args):
    return subprocess.run([os.path.join(bin_dir, "framespec"), "list"] + list(args),
                          capture_output=True, text=True, timeout=30, check=True).stdout


def test_every_requirement_has_a_case(bin_dir):
    spec = open(os.path.join(ROOT, "docs", "spec.md")).read()
    reqs = set(re.findall(r"\*\*([A-Z]+-\d+)\*\*", spec))
    assert len(reqs) >= 30
    covered = set()
    for line in listing(bin_dir).splitlines():
        covered.update(line.split()[1].split(","))
    assert reqs - covered == set(), "requirements without a case"
    assert covered - reqs == set(), "cases naming unknown requirements"


def test_ids_are_group_dot_name(bin_dir):
    groups = {"framing", "segmentation", "limits", "halfclose", "reset", "idle", "backpressure",
              "concurrency", "latency", "resources"}
    ids = [l.split()[0] for l in listing(bin_dir).splitlines()]
    assert len(ids) == len(set(ids))
    assert {i.split(".")[0] for i in ids} == groups


def test_docs_cases_md_is_generated_from_the_catalogue(bin_dir):
    with open(os.path.join(ROOT, "docs", "cases.md")) as f:
        assert f.read() == listing(bin_dir, "--markdown"), \
            "docs/cases.md is stale: build/bin/framespec list --markdown > docs/cases.md"
