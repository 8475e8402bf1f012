"""`gitexp compare`: side by side, deltas against the first, code diff without .gitexp/."""

from __future__ import annotations

from pathlib import Path

from conftest import last_line, run_gitexp
from explore_support import gitexp_json, gitexp_ok, study, study_template

__all__ = ["study", "study_template"]


def test_table_has_values_and_deltas(study: Path) -> None:
    out = gitexp_ok("compare", "alpha", "beta", "gamma", cwd=study).stdout
    lines = {
        line.split()[1] if line.startswith(("params", "metrics")) else line.split()[0]: line
        for line in out.splitlines()[2:]
    }
    assert out.splitlines()[0].split() == ["alpha", "beta", "gamma"]
    assert lines["lr"].split()[-4:] == ["0.2", "(+0.1)", "0.2", "(+0.1)"]
    assert "0.6 (+0.3)" in lines["val/acc"] and "0.9 (+0.6)" in lines["val/acc"]
    assert lines["epochs"].split()[-3:] == ["4", "4", "4"]  # equal: no delta


def test_json_lists_values_and_deltas(study: Path) -> None:
    doc = gitexp_json("compare", "alpha", "gamma", "broken", cwd=study)
    assert [e["name"] for e in doc["experiments"]] == ["alpha", "gamma", "broken"]
    acc = next(m for m in doc["metrics"] if m["key"] == "val/acc")
    assert acc == {"key": "val/acc", "values": [0.3, 0.9, None], "deltas": [0.0, 0.6, None]}
    depth = next(p for p in doc["params"] if p["key"] == "model.depth")
    assert depth["values"] == [3, 9, 3]
    assert "diff" not in doc


def test_only_changed(study: Path) -> None:
    doc = gitexp_json("compare", "beta", "gamma", "--only-changed", cwd=study)
    assert [p["key"] for p in doc["params"]] == ["model.depth"]
    assert [m["key"] for m in doc["metrics"]] == ["val/acc"]


def test_diff_shows_code_changes_but_not_the_record(study: Path) -> None:
    out = gitexp_ok("compare", "alpha", "gamma", "--diff", cwd=study).stdout
    assert "diff alpha -> gamma" in out
    assert "diff --git a/params.yaml b/params.yaml" in out
    assert "-  depth: 3" in out and "+  depth: 9" in out
    assert ".gitexp" not in out
    doc = gitexp_json("compare", "beta", "gamma", "--diff", cwd=study)
    assert set(doc["diff"]) == {"gamma"} and "+  depth: 9" in doc["diff"]["gamma"]


def test_errors_are_one_line(study: Path) -> None:
    proc = run_gitexp("compare", "alpha", cwd=study)
    assert proc.returncode == 2
    assert last_line(proc.stderr).startswith("gitexp: error: compare needs at least two")
    proc = run_gitexp("compare", "alpha", "nope", cwd=study)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("gitexp: error: no experiment named 'nope'")
    proc = run_gitexp("compare", "alpha", "b", cwd=study)
    assert proc.returncode == 2
    assert last_line(proc.stderr) == "gitexp: error: 'b' is ambiguous: beta, broken"
