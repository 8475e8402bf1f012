"""`gitexp apply` of an experiment whose baseline is older than HEAD: its changes only.

Commits made after the baseline stay in the work tree; a file changed both
in the experiment and since its baseline is refused as a whole (nothing
written) unless --force; --whole writes the experiment's whole tree as before.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from apply_support import commit, experiment, ok, work_tree
from conftest import git, last_line, run_gitexp


@pytest.fixture
def moved_on(tmp_path: Path) -> Path:
    """Experiment `exp` (lr 0.5 in params.yaml, model.txt added, old.txt deleted) on
    a baseline HEAD has moved past: a commit added later.txt, .dvcignore and changed
    notes.md, none of which the experiment touched."""
    root = experiment(tmp_path / "r")
    commit(root, {"later.txt": "later\n", ".dvcignore": "# dvc\n", "notes.md": "v2\n"}, "more")
    return root


def test_apply_on_an_older_baseline_keeps_later_commits(moved_on: Path) -> None:
    baseline = git(moved_on, "rev-parse", "refs/experiments/exp^").strip()
    out = ok("apply", "exp", cwd=moved_on)
    assert out == (
        f"applied exp ({git(moved_on, 'rev-parse', '--short=7', 'refs/experiments/exp').strip()}"
        f"): 2 written (model.txt, params.yaml), 1 deleted (old.txt); its changes since its "
        f"baseline {baseline[:7]}, "
        "later commits kept\n"
    )
    assert (moved_on / "later.txt").read_text() == "later\n"  # committed after the baseline
    assert (moved_on / ".dvcignore").read_text() == "# dvc\n"
    assert (moved_on / "notes.md").read_text() == "v2\n"
    assert "lr: 0.5" in (moved_on / "params.yaml").read_text()  # the experiment's changes
    assert (moved_on / "model.txt").read_text() == "weights\n"
    assert not (moved_on / "old.txt").exists()
    status = sorted(git(moved_on, "status", "--porcelain").splitlines())
    assert status == [" D old.txt", " M params.yaml", "?? model.txt"]


def test_a_file_changed_on_both_sides_refuses_the_whole_apply(moved_on: Path) -> None:
    commit(moved_on, {"params.yaml": "lr: 0.2\n", "old.txt": "edited\n"}, "tuned")
    before = work_tree(moved_on)
    proc = run_gitexp("apply", "exp", cwd=moved_on)
    assert proc.returncode == 2
    baseline = git(moved_on, "rev-parse", "--short=7", "refs/experiments/exp^").strip()
    assert proc.stderr == (
        "gitexp: error: refusing to apply 'exp': 2 file(s) changed both in the experiment "
        f"and since its baseline {baseline} (old.txt, params.yaml); nothing was written "
        "(hint: `gitexp apply exp --force` takes the experiment's version, "
        "`gitexp branch exp BRANCH` gives a branch at the experiment)\n"
    )
    assert work_tree(moved_on) == before
    assert git(moved_on, "status", "--porcelain") == ""
    ok("apply", "exp", "--force", cwd=moved_on)
    assert "lr: 0.5" in (moved_on / "params.yaml").read_text()
    assert not (moved_on / "old.txt").exists()
    assert (moved_on / "later.txt").exists() and (moved_on / "notes.md").read_text() == "v2\n"


def test_head_holding_the_experiments_version_is_no_conflict(moved_on: Path) -> None:
    mine = git(moved_on, "show", "refs/experiments/exp:params.yaml")
    commit(moved_on, {"params.yaml": mine}, "took the experiment's params")
    out = ok("apply", "exp", cwd=moved_on)
    assert "1 written (model.txt), 1 deleted (old.txt)" in out
    assert (moved_on / "params.yaml").read_text() == mine
    assert (moved_on / "later.txt").exists()


def test_uncommitted_changes_only_in_files_it_writes_are_refused(moved_on: Path) -> None:
    (moved_on / "notes.md").write_text("my unsaved work\n")  # the experiment left it alone
    (moved_on / "params.yaml").write_text("lr: 0.3\n")  # the experiment changed it
    proc = run_gitexp("apply", "exp", cwd=moved_on)
    assert proc.returncode == 2
    assert last_line(proc.stderr) == (
        "gitexp: error: refusing to apply 'exp': uncommitted changes to files it would "
        "write or delete (params.yaml); nothing was written (hint: commit or stash them "
        "first, or use --force, which saves them in a stash first)"
    )
    (moved_on / "params.yaml").write_text("lr: 0.1\n")
    (moved_on / "model.txt").write_text("my own model\n")  # untracked, in the way
    proc = run_gitexp("apply", "exp", cwd=moved_on)
    assert "untracked files it would overwrite (model.txt)" in proc.stderr
    assert (moved_on / "model.txt").read_text() == "my own model\n"
    (moved_on / "model.txt").unlink()
    ok("apply", "exp", cwd=moved_on)  # notes.md is not in its way
    assert (moved_on / "model.txt").read_text() == "weights\n"
    assert "lr: 0.5" in (moved_on / "params.yaml").read_text()
    assert (moved_on / "notes.md").read_text() == "my unsaved work\n"  # kept as it was


def test_whole_writes_the_experiments_tree(moved_on: Path) -> None:
    out = ok("apply", "exp", "--whole", cwd=moved_on)
    assert "its changes since" not in out
    assert not (moved_on / "later.txt").exists() and not (moved_on / ".dvcignore").exists()
    assert (moved_on / "notes.md").read_text() == "v1\n"
    assert "lr: 0.5" in (moved_on / "params.yaml").read_text()


def test_untracked_files_the_experiment_did_not_touch_stay(moved_on: Path) -> None:
    (moved_on / "scratch.txt").write_text("mine\n")
    ok("apply", "exp", cwd=moved_on)
    assert (moved_on / "scratch.txt").read_text() == "mine\n"
    assert (moved_on / "later.txt").exists()
