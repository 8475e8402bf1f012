"""`gitexp apply` never loses uncommitted work (found by the fourth team trial).

Like git's checkout: only an uncommitted change to a file apply writes or
deletes stops it (named); other uncommitted changes stay as they are. With
--force that work is first saved as a real `git stash` entry, named in one
line. Also: the summary names the files when they are few, and an apply onto
a HEAD that does not contain the baseline says so.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from apply_support import commit, experiment, ok, short, work_tree
from conftest import git, make_repo, run_gitexp

REFUSED = (
    "gitexp: error: refusing to apply 'exp': uncommitted changes to files it would write "
    "or delete ({}); nothing was written (hint: commit or stash them first, or use "
    "--force, which saves them in a stash first)\n"
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """HEAD is the baseline of `exp` (lr 0.5, model.txt added, old.txt deleted)."""
    return experiment(tmp_path / "r")


def test_a_dirty_file_apply_does_not_write_is_kept(repo: Path) -> None:
    (repo / "train.py").write_text((repo / "train.py").read_text() + "# local edit\n")
    out = ok("apply", "exp", cwd=repo)
    assert out == (
        f"applied exp ({short(repo, 'refs/experiments/exp')}): "
        "2 written (model.txt, params.yaml), 1 deleted (old.txt)\n"
    )
    assert (repo / "train.py").read_text().endswith("# local edit\n")
    assert "lr: 0.5" in (repo / "params.yaml").read_text()
    assert git(repo, "stash", "list") == ""  # nothing overwritten, nothing stashed


def test_a_dirty_file_apply_would_write_or_delete_is_refused(repo: Path) -> None:
    (repo / "params.yaml").write_text("lr: 0.3\n")
    (repo / "old.txt").write_text("edited, and the experiment deletes it\n")
    (repo / "train.py").write_text("# not in its way\n")
    before = work_tree(repo)
    proc = run_gitexp("apply", "exp", cwd=repo)
    assert proc.returncode == 2
    assert proc.stderr == REFUSED.format("old.txt, params.yaml")
    assert work_tree(repo) == before


def test_force_saves_the_users_work_in_a_stash_first(repo: Path) -> None:
    (repo / "params.yaml").write_text("lr: 0.2\n")
    git(repo, "add", "params.yaml")  # staged ...
    (repo / "params.yaml").write_text("lr: 0.3\n")  # ... and changed again
    (repo / "model.txt").write_text("my own model\n")  # untracked, in its way
    (repo / "train.py").write_text("# not in its way\n")
    proc = run_gitexp("apply", "exp", "--force", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    saved = short(repo, "stash@{0}")
    assert proc.stderr == (
        f"gitexp: saved your uncommitted changes to model.txt, params.yaml in stash@{{0}} "
        f"({saved}) before overwriting them: "
        "`git stash show -p --include-untracked stash@{0}`\n"
    )
    assert "2 written (model.txt, params.yaml), 1 deleted (old.txt)" in proc.stdout
    assert git(repo, "stash", "list") == (
        "stash@{0}: On main: gitexp apply exp: your uncommitted changes\n"
    )
    assert git(repo, "show", "stash@{0}:params.yaml") == "lr: 0.3\n"  # the work tree's
    assert git(repo, "show", "stash@{0}^2:params.yaml") == "lr: 0.2\n"  # the index's
    assert git(repo, "show", "stash@{0}^3:model.txt") == "my own model\n"
    assert git(repo, "stash", "show", "--name-only", "stash@{0}") == "params.yaml\n"
    assert (repo / "model.txt").read_text() == "weights\n"
    assert (repo / "train.py").read_text() == "# not in its way\n"  # neither touched nor saved
    assert git(repo, "diff", "--cached") != ""  # the index is as the user left it
    git(repo, "checkout", "HEAD", "--", "params.yaml")
    (repo / "model.txt").unlink()
    git(repo, "stash", "pop", "--index")  # git itself gives it all back
    assert (repo / "params.yaml").read_text() == "lr: 0.3\n"
    assert git(repo, "show", ":params.yaml") == "lr: 0.2\n"
    assert (repo / "model.txt").read_text() == "my own model\n"
    assert "error" not in git(repo, "fsck", "--no-dangling")


def test_whole_and_an_older_baseline_refuse_and_save_alike(repo: Path) -> None:
    commit(repo, {"later.txt": "later\n", "notes.md": "v2\n"}, "more")
    (repo / "later.txt").write_text("later, edited\n")  # --whole deletes it
    (repo / "notes.md").write_text("mine\n")  # --whole reverts it; its changes leave it
    out = ok("apply", "exp", cwd=repo)  # its changes only: neither file is in its way
    assert (repo / "later.txt").read_text() == "later, edited\n"
    assert "its changes since its baseline" in out
    git(repo, "checkout", "--", "params.yaml", "old.txt")
    (repo / "model.txt").unlink()
    proc = run_gitexp("apply", "exp", "--whole", cwd=repo)
    assert proc.returncode == 2
    assert proc.stderr == REFUSED.format("later.txt, notes.md")
    proc = run_gitexp("apply", "exp", "--whole", "--force", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert "changes to later.txt, notes.md in stash@{0}" in proc.stderr
    assert not (repo / "later.txt").exists() and (repo / "notes.md").read_text() == "v1\n"
    assert git(repo, "show", "stash@{0}:later.txt") == "later, edited\n"
    assert git(repo, "show", "stash@{0}:notes.md") == "mine\n"


WRITER = (
    "import pathlib, sys\nfor i in range(int(sys.argv[1])):\n    pathlib.Path(f'f{i}').touch()\n"
)


def test_the_summary_names_up_to_ten_files(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"w.py": WRITER})
    ok("run", "-q", "-n", "ten", "--", "python", "w.py", "10", cwd=root)
    ok("run", "-q", "-n", "eleven", "--", "python", "w.py", "11", cwd=root)
    out = ok("apply", "ten", cwd=root)
    assert out.endswith(": 10 written (f0, f1, f2, f3, f4, f5, f6, f7, f8, f9), 0 deleted\n")
    out = ok("apply", "eleven", cwd=root)
    assert out.endswith(": 1 written (f10), 0 deleted\n")  # the ten are there already
    for path in root.glob("f*"):
        path.unlink()
    assert ok("apply", "eleven", cwd=root).endswith(": 11 written, 0 deleted\n")
    assert ok("apply", "eleven", cwd=root).endswith(
        ": 0 written, 0 deleted (the work tree already has the experiment's changes)\n"
    )


def test_a_head_without_the_baseline_is_said(repo: Path) -> None:
    base = short(repo, "refs/experiments/exp^")
    git(repo, "commit", "-q", "--amend", "-m", "rewritten")  # main no longer holds the baseline
    out = ok("apply", "exp", cwd=repo)
    assert out == (
        f"applied exp ({short(repo, 'refs/experiments/exp')}): 2 written (model.txt, "
        f"params.yaml), 1 deleted (old.txt); HEAD does not contain its baseline {base} "
        "(history rewritten, or another branch): only the files the experiment changed "
        "since that baseline were written or deleted, every other file is as HEAD has it\n"
    )
