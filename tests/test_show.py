"""`gitexp show` / `gitexp log` on a real study: schema, sort, filter, columns, errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from conftest import git, last_line, run_gitexp
from explore_support import gitexp_json, gitexp_ok, names, study, study_template

__all__ = ["study", "study_template"]

SCHEMA_KEYS = {
    "name",
    "ref",
    "commit",
    "baseline",
    "status",
    "created",
    "seed",
    "params",
    "metrics",
}


def test_json_schema_is_nested_and_complete(study: Path) -> None:
    rows = gitexp_json("show", cwd=study)
    assert sorted(names(rows)) == ["alpha", "beta", "broken", "gamma"]
    head = git(study, "rev-parse", "HEAD").strip()
    beta = next(r for r in rows if r["name"] == "beta")
    assert set(beta) == SCHEMA_KEYS
    assert beta["ref"] == "refs/experiments/beta"
    assert beta["commit"] == git(study, "rev-parse", "refs/experiments/beta").strip()
    assert beta["baseline"] == head
    assert beta["status"] == "succeeded"
    assert isinstance(beta["seed"], int)
    assert beta["params"] == {"lr": 0.2, "epochs": 4, "model": {"depth": 6}}
    assert beta["metrics"] == {"loss": 0.05, "val/acc": 0.6}
    broken = next(r for r in rows if r["name"] == "broken")
    assert broken["status"] == "failed"
    assert broken["metrics"] == {}


def test_sort_by_metric_both_orders_missing_last(study: Path) -> None:
    asc = names(gitexp_json("show", "--sort-by", "val/acc", cwd=study))
    desc = names(gitexp_json("show", "--sort-by", "val/acc", "--desc", cwd=study))
    assert asc == ["alpha", "beta", "gamma", "broken"]
    assert desc == ["gamma", "beta", "alpha", "broken"]
    by_param = gitexp_json(
        "show", "--sort-by", "params.model.depth", "--desc", "-n", "1", cwd=study
    )
    assert names(by_param) == ["gamma"]


def test_filters_combine_and_compare_numbers_and_text(study: Path) -> None:
    def shown(*filters: str) -> list[str]:
        args = [a for f in filters for a in ("--filter", f)]
        return sorted(names(gitexp_json("show", *args, cwd=study)))

    assert shown("val/acc>0.5") == ["beta", "gamma"]
    assert shown("status=failed") == ["broken"]
    assert shown("model.depth<=6") == ["alpha", "beta", "broken"]
    assert shown("lr=0.2", "model.depth!=9") == ["beta"]
    assert shown("name~^g") == ["gamma"]
    assert shown("val/acc>=0.9") == ["gamma"]


def test_only_changed_hides_equal_columns(study: Path) -> None:
    out = gitexp_ok("show", "--only-changed", "--format", "csv", cwd=study).stdout
    header = out.splitlines()[0].split(",")
    assert header[:4] == ["name", "created", "status", "baseline"]
    assert "lr" in header and "model.depth" in header and "val/acc" in header
    assert "epochs" not in header  # 4 in every experiment
    full = gitexp_ok("show", "--format", "csv", cwd=study).stdout.splitlines()[0].split(",")
    assert "epochs" in full


def test_column_choice_and_markdown(study: Path) -> None:
    out = gitexp_ok(
        "show", "--params", "model", "--metrics", "val/*", "--format", "md", cwd=study
    ).stdout
    header = out.splitlines()[0]
    assert "model.depth" in header and "val/acc" in header
    assert "lr" not in header and "loss" not in header
    assert out.splitlines()[1].startswith("|--")


def test_table_is_the_default(study: Path) -> None:
    out = gitexp_ok("show", "--sort-by", "val/acc", "--desc", cwd=study).stdout
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["name", "created", "status", "baseline"]
    assert lines[2].split()[0] == "gamma"


def test_baseline_selects_experiments_of_one_commit(study: Path) -> None:
    (study / "notes.txt").write_text("new baseline\n")
    git(study, "add", "notes.txt")
    git(study, "commit", "-q", "-m", "second")
    gitexp_ok("run", "-q", "-n", "delta", "--", "python", "train.py", cwd=study)
    assert names(gitexp_json("show", "--baseline", "HEAD", cwd=study)) == ["delta"]
    assert len(gitexp_json("show", "--baseline", "HEAD~1", cwd=study)) == 4
    assert names(gitexp_json("show", "--limit", "1", cwd=study)) == ["delta"]  # newest first


def test_bad_filters_and_columns_are_one_line_errors(study: Path) -> None:
    cases = {
        ("--filter", "acc"): "gitexp: error: bad filter 'acc'",
        ("--filter", "val/acc>"): "gitexp: error: bad filter 'val/acc>'",
        ("--filter", "name~("): "gitexp: error: bad regular expression in filter 'name~('",
        ("--filter", "nope>1"): "gitexp: error: unknown column 'nope'",
        ("--sort-by", "val/ac"): "gitexp: error: unknown column 'val/ac' (hint: did you mean",
        ("--params", "nope"): "gitexp: error: unknown param 'nope'",
        ("--format", "xml"): "gitexp: error: unknown format 'xml'",
        ("--baseline", "nobranch"): "gitexp: error: unknown revision 'nobranch'",
    }
    for args, message in cases.items():
        proc = run_gitexp("show", *args, cwd=study)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith(message), proc.stderr
        assert "Traceback" not in proc.stderr


def test_names_resolve_by_prefix_ref_and_commit(study: Path) -> None:
    commit = git(study, "rev-parse", "refs/experiments/gamma").strip()
    for spec in ("gamma", "g", "refs/experiments/gamma", commit, commit[:8]):
        assert gitexp_json("show", spec, cwd=study)["name"] == "gamma", spec
    proc = run_gitexp("show", "b", cwd=study)
    assert proc.returncode == 2
    assert last_line(proc.stderr) == "gitexp: error: 'b' is ambiguous: beta, broken"
    proc = run_gitexp("log", "zeta", cwd=study)
    assert proc.returncode == 2
    assert last_line(proc.stderr).startswith("gitexp: error: no experiment named 'zeta'")


def test_show_one_experiment_in_full(study: Path) -> None:
    out = gitexp_ok("show", "beta", cwd=study).stdout
    assert "experiment beta" in out
    assert "command          python train.py" in out
    assert "lr *" in out and "model.depth *" in out and "epochs  " in out  # overrides marked
    loss = next(
        line for line in out.splitlines() if line.strip().startswith("loss") and "steps" in line
    )
    assert "steps=4 first=0.2 last=0.05 min=0.05 max=0.2" in loss
    assert "▁" in loss or "█" in loss  # sparkline
    assert gitexp_ok("log", "beta", cwd=study).stdout == out
    detail = gitexp_json("log", "beta", cwd=study)
    assert detail["history"]["loss"] == {
        "steps": 4,
        "first": 0.2,
        "last": 0.05,
        "min": 0.05,
        "max": 0.2,
    }
    assert detail["run"]["overrides"] == ["lr=0.2", "model.depth=6"]
    assert detail["environment"]["executor"] == "local"


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_running_experiment_whose_process_died_shows_interrupted(study: Path) -> None:
    import json

    from gitexp import store
    from gitexp.repo import open_repo
    from gitexp.snapshot import tree_with_files

    repo = open_repo(study)
    head = repo.head_commit()
    for name, host, pid in (
        ("ghost", socket.gethostname(), _dead_pid()),
        ("elsewhere", "another-host", _dead_pid()),
        ("alive", socket.gethostname(), os.getpid()),
    ):
        run = {"name": name, "status": "running", "host": host, "pid": pid, "params": {}}
        tree = tree_with_files(repo, head.tree_id, {store.RUN_JSON: json.dumps(run).encode()})
        assert store.reserve(repo, name, store.write_commit(repo, tree, head.id, f"gitexp: {name}"))
    status = {r["name"]: r["status"] for r in gitexp_json("show", cwd=study)}
    assert status["ghost"] == "interrupted"
    assert status["elsewhere"] == "running"  # cannot tell on another host
    assert status["alive"] == "running"
