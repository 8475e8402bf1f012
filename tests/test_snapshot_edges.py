"""Snapshots at the edges: folders nested deeper than libgit2 walks, names gitexp
cannot write back, scripts git ignores. Each runs, or is refused before a name
is reserved (exit 2, nothing written)."""

from __future__ import annotations

from pathlib import Path

import pygit2
from conftest import git
from run_support import show
from sharing_support import ok

from gitexp.gitstore.repo import open_repo
from gitexp.gitstore.status import porcelain_status

DEEP = "deep/" + "d/" * 200  # libgit2's status stops at 100 levels


def _deep_leaf(root: Path) -> str:
    (root / DEEP).mkdir(parents=True)
    (root / DEEP / "leaf.txt").write_text("x\n")
    return DEEP + "leaf.txt"


def test_an_untracked_folder_deeper_than_100_levels_is_snapshotted(git_repo: Path) -> None:
    leaf = _deep_leaf(git_repo)
    ok("run", "-n", "deep1", "-q", "--", "python", "train.py", cwd=git_repo)
    assert show(git_repo, "deep1", leaf) == "x\n"
    assert git(git_repo, "status", "--porcelain") == "?? deep/\n"  # untouched


def test_a_tracked_folder_deeper_than_100_levels_runs_and_records_changes(
    git_repo: Path,
) -> None:
    leaf = _deep_leaf(git_repo)
    git(git_repo, "add", "deep")
    git(git_repo, "commit", "-qm", "deep")
    (git_repo / leaf).write_text("dirty\n")
    script = f"open({leaf!r}, 'a').write('run\\n')"
    ok("run", "-n", "deep2", "-q", "--", "python", "-c", script, cwd=git_repo)
    assert show(git_repo, "deep2", leaf) == "dirty\nrun\n"
    assert (git_repo / leaf).read_text() == "dirty\n"


def test_git_status_fallback_reads_as_libgit2_does(git_repo: Path) -> None:
    (git_repo / "train.py").write_text("changed\n")
    (git_repo / "params.yaml").write_text("lr: 1\n")
    git(git_repo, "add", "params.yaml")
    (git_repo / "params.yaml").write_text("lr: 2\n")
    (git_repo / ".gitignore").unlink()
    (git_repo / "new dir").mkdir()
    (git_repo / "new dir" / "é ü.txt").write_text("n\n")
    (git_repo / "x.ignored").write_text("ignored\n")
    repo = open_repo(git_repo)
    expected = repo.git.status(untracked_files="all", ignored=False)
    assert porcelain_status(repo) == expected
    assert expected["train.py"] == pygit2.enums.FileStatus.WT_MODIFIED
