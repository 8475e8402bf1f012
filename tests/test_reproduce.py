"""`gitexp reproduce`: exit 0 when metrics match, 3 when they differ, 1 when the rerun fails;
no experiment ref is left behind unless --save."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pygit2
import pytest
from conftest import git, last_line, run_gitexp, write_files
from run_support import exp_refs, run_json
from sharing_support import ok

SEEDED = """\
import random
import gitexp
gitexp.seed_everything()
gitexp.log_metric("acc", random.random())
gitexp.log_metric("loss", 1.5)
"""
UNSEEDED = """\
import os
import gitexp
gitexp.log_metric("acc", int.from_bytes(os.urandom(6), "big") / 2**48)
gitexp.log_metric("loss", 1.5)
"""
FLAKY = """\
import os, sys
import gitexp
gitexp.log_metric("acc", 0.5)
sys.exit(int(os.environ.get("MAKE_IT_FAIL", "0")))
"""
SILENT = """\
import os, sys
print("hello from the run")
sys.exit(int(os.environ.get("MAKE_IT_FAIL", "0")))
"""


def _commit(root: Path, files: dict[str, str]) -> None:
    write_files(root, files)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "scripts")


def test_seeded_run_reproduces_with_exit_0_and_leaves_no_ref(git_repo: Path) -> None:
    _commit(git_repo, {"seeded.py": SEEDED})
    ok("run", "-n", "orig", "-q", "-p", "lr=0.3", "--", "python", "seeded.py", cwd=git_repo)
    (git_repo / "seeded.py").write_text("raise SystemExit('the work tree is not what reruns')\n")

    proc = run_gitexp("reproduce", "orig", "-q", cwd=git_repo)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].split() == [
        "metric",
        "recorded",
        "reproduced",
        "difference",
        "ok?",
    ]
    assert [line.split()[-1] for line in proc.stdout.splitlines()[2:]] == ["ok", "ok"]
    assert last_line(proc.stderr) == "gitexp: orig: metrics match"
    assert exp_refs(git_repo).keys() == {"orig"}
    assert (git_repo / "seeded.py").read_text().startswith("raise")  # user's file untouched


def test_unseeded_script_differs_with_exit_3_and_json_says_why(git_repo: Path) -> None:
    _commit(git_repo, {"unseeded.py": UNSEEDED})
    ok("run", "-n", "noisy", "-q", "--", "python", "unseeded.py", cwd=git_repo)
    proc = run_gitexp("reproduce", "noisy", "--format", "json", cwd=git_repo)
    assert proc.returncode == 3, proc.stderr
    report = json.loads(proc.stdout)
    rows = {row["metric"]: row for row in report["rows"]}
    assert rows["acc"]["ok"] is False and rows["loss"]["ok"] is True
    assert report["match"] is False and report["exit_code"] == 3
    assert exp_refs(git_repo).keys() == {"noisy"}

    # a loose tolerance, or comparing only a stable metric, makes it pass
    assert run_gitexp("reproduce", "noisy", "-q", "--atol", "1", cwd=git_repo).returncode == 0
    proc = run_gitexp("reproduce", "noisy", "-q", "--metrics", "loss", cwd=git_repo)
    assert proc.returncode == 0 and "acc" not in proc.stdout


def test_failed_rerun_exits_1_and_cleans_up(git_repo: Path) -> None:
    _commit(git_repo, {"flaky.py": FLAKY})
    ok("run", "-n", "flaky", "-q", "--", "python", "flaky.py", cwd=git_repo)
    proc = run_gitexp("reproduce", "flaky", "-q", cwd=git_repo, env={"MAKE_IT_FAIL": "1"})
    assert proc.returncode == 1
    assert last_line(proc.stderr) == "gitexp: flaky: rerun failed: exit code 1"
    assert exp_refs(git_repo).keys() == {"flaky"}


def test_save_keeps_the_rerun_linked_to_the_original(git_repo: Path) -> None:
    _commit(git_repo, {"seeded.py": SEEDED})
    ok("run", "-n", "orig", "-q", "--", "python", "seeded.py", cwd=git_repo)
    proc = run_gitexp("reproduce", "orig", "-q", "--save", "--name", "orig-again", cwd=git_repo)
    assert proc.returncode == 0, proc.stderr
    refs = exp_refs(git_repo)
    assert refs.keys() == {"orig", "orig-again"}
    record = run_json(git_repo, "orig-again")
    assert record["reproduces"] == {"name": "orig", "commit": refs["orig"]}
    assert record["seed"] == run_json(git_repo, "orig")["seed"]


def test_bad_inputs_are_one_line_errors(git_repo: Path) -> None:
    _commit(git_repo, {"seeded.py": SEEDED})
    ok("run", "-n", "orig", "-q", "--", "python", "seeded.py", cwd=git_repo)
    cases = {
        ("reproduce", "nope"): "gitexp: error: no experiment named 'nope' "
        "(hint: list them with `gitexp show`)",
        ("reproduce", "orig", "--metrics", "f1"): "gitexp: error: metric 'f1' was not recorded "
        "(hint: recorded: acc, loss)",
        ("reproduce", "orig", "--name", "x"): "gitexp: error: --name names a saved rerun "
        "(hint: add --save)",
    }
    for args, message in cases.items():
        proc = run_gitexp(*args, cwd=git_repo)
        assert (proc.returncode, last_line(proc.stderr)) == (2, message), args
    assert exp_refs(git_repo).keys() == {"orig"}


def test_no_recorded_metrics_is_refused_unless_allow_empty(git_repo: Path) -> None:
    _commit(git_repo, {"silent.py": SILENT})
    ok("run", "-n", "silent", "-q", "--", "python", "silent.py", cwd=git_repo)
    proc = run_gitexp("reproduce", "silent", cwd=git_repo)
    assert (proc.returncode, last_line(proc.stderr)) == (
        2,
        "gitexp: error: experiment 'silent' recorded no metrics: nothing to compare "
        "(hint: pass --allow-empty to check only that it runs)",
    )
    assert "hello" not in proc.stdout  # refused before re-running
    assert exp_refs(git_repo).keys() == {"silent"}

    proc = run_gitexp("reproduce", "silent", "--allow-empty", cwd=git_repo)
    assert proc.returncode == 0, proc.stderr
    assert "hello from the run" in proc.stdout
    assert last_line(proc.stderr) == "gitexp: silent: rerun succeeded (no metrics to compare)"
    proc = run_gitexp(
        "reproduce", "silent", "--allow-empty", "-q", cwd=git_repo, env={"MAKE_IT_FAIL": "1"}
    )
    assert (proc.returncode, last_line(proc.stderr)) == (
        1,
        "gitexp: silent: rerun failed: exit code 1: hello from the run",
    )
    assert exp_refs(git_repo).keys() == {"silent"}


def _drop_baseline(run: dict[str, Any]) -> None:
    del run["baseline"]


def _bogus_baseline(run: dict[str, Any]) -> None:
    run["baseline"] = "not-a-commit"


@pytest.mark.parametrize(
    ("edit", "root_commit"),
    [(_drop_baseline, False), (_bogus_baseline, False), (_drop_baseline, True)],
    ids=["no-baseline", "bogus-baseline", "root-commit"],
)
def test_baseline_is_the_commits_parent_whatever_run_json_says(
    git_repo: Path, edit: Callable[[dict[str, Any]], None], root_commit: bool
) -> None:
    _commit(git_repo, {"seeded.py": SEEDED})
    ok("run", "-n", "orig", "-q", "--", "python", "seeded.py", cwd=git_repo)
    crafted = _rewrite_run_json(git_repo, "orig", edit, root_commit)
    proc = run_gitexp("reproduce", "orig", "-q", "--save", "-n", "again", cwd=git_repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert last_line(proc.stderr) == "gitexp: orig: metrics match; saved as again"
    parent = crafted if root_commit else git(git_repo, "rev-parse", "HEAD").strip()
    assert run_json(git_repo, "again")["baseline"] == parent
    assert git(git_repo, "rev-parse", "refs/experiments/again^").strip() == parent


def _rewrite_run_json(
    root: Path, name: str, edit: Callable[[dict[str, Any]], None], root_commit: bool
) -> str:
    """Replace the experiment's commit by one whose run.json was edited (a crafted pull)."""
    repo = pygit2.Repository(str(root))
    ref = f"refs/experiments/{name}"
    commit = repo.revparse_single(ref).peel(pygit2.Commit)
    run = json.loads(repo.revparse_single(f"{ref}:.gitexp/run.json").peel(pygit2.Blob).data)
    edit(run)
    meta = repo.TreeBuilder(commit.tree[".gitexp"].peel(pygit2.Tree))
    meta.insert("run.json", repo.create_blob(json.dumps(run).encode()), pygit2.GIT_FILEMODE_BLOB)
    top = repo.TreeBuilder(commit.tree)
    top.insert(".gitexp", meta.write(), pygit2.GIT_FILEMODE_TREE)
    parents = [] if root_commit else list(commit.parent_ids)
    new = repo.create_commit(
        None, commit.author, commit.committer, commit.message, top.write(), parents
    )
    repo.references[ref].set_target(new)
    return str(new)
