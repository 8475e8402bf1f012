"""`gitexp remove NAME --remote REMOTE`: an experiment deleted on the remote stays gone.

A plain `remove` is local: the next pull brings the experiment back from a
remote that still has it (and remove says so). With ``--remote`` the names
are looked up on the remote and deleted there in one `git push`, each leased
on the commit seen, and here too. Real repositories, a real bare remote.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import git, make_repo, run_gitexp

from gitexp.common.errors import BackendError
from gitexp.gitstore.repo import open_repo
from gitexp.sharing import deleting


def ok(*args: str, cwd: Path) -> str:
    proc = run_gitexp(*args, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout + proc.stderr


def names(repo: Path) -> list[str]:
    out = git(repo, "for-each-ref", "--format=%(refname:lstrip=2)", "refs/experiments")
    return out.split()


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A repository with experiments a, b, sw/t1, sw/t2, all pushed to ``origin``."""
    root = make_repo(tmp_path / "a")
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(root, "remote", "add", "origin", remote.as_uri())
    for name in ("a", "b", "sw/t1", "sw/t2"):
        ok("run", "-n", name, "--", sys.executable, "-c", "print('acc: 1')", cwd=root)
    ok("push", "origin", "--all", cwd=root)
    return root


def remote_names(clone: Path) -> list[str]:
    out = git(clone, "ls-remote", "origin", "refs/experiments/*")
    return sorted(
        line.split("\t")[1].removeprefix("refs/experiments/") for line in out.splitlines()
    )


def test_a_plain_remove_is_local_and_says_so(clone: Path) -> None:
    out = ok("remove", "a", cwd=clone)
    assert "removed a" in out
    assert "gitexp: removed here only; a remote that has them gives them back" in out
    ok("pull", "origin", cwd=clone)
    assert "a" in names(clone)  # back, as said


def test_remove_with_remote_deletes_there_and_here(clone: Path) -> None:
    out = ok("remove", "a", "sw", "--remote", "origin", cwd=clone)
    for name in ("a", "sw/t1", "sw/t2"):
        assert f"removed {name} (here and on origin)" in out
    assert remote_names(clone) == ["b"]
    assert names(clone) == ["b"]
    ok("pull", "origin", cwd=clone)
    assert names(clone) == ["b"]  # stays gone


def test_remove_on_the_remote_only_what_is_there(tmp_path: Path, clone: Path) -> None:
    other = make_repo(tmp_path / "other")  # never pulled: nothing here to remove
    out = ok("remove", "b", "--remote", str(clone.parent / "remote.git"), cwd=other)
    assert f"removed b (on {clone.parent / 'remote.git'})" in out
    assert "b" not in remote_names(clone)
    assert "b" in names(clone)  # the author's own copy is theirs


def test_dry_run_deletes_nothing(clone: Path) -> None:
    out = ok("remove", "sw", "--remote", "origin", "--dry-run", cwd=clone)
    assert "would remove sw/t1 (here and on origin)" in out
    assert remote_names(clone) == ["a", "b", "sw/t1", "sw/t2"]
    assert names(clone) == ["a", "b", "sw/t1", "sw/t2"]


def test_bad_requests_are_one_line(clone: Path) -> None:
    proc = run_gitexp("remove", "zz", "--remote", "origin", cwd=clone)
    assert (proc.returncode, proc.stderr) == (
        2,
        "gitexp: error: no experiment named 'zz' on origin\n",
    )
    proc = run_gitexp("remove", "--failed", "--remote", "origin", cwd=clone)
    assert proc.returncode == 2
    assert proc.stderr.startswith("gitexp: error: --remote takes experiment names")
    proc = run_gitexp("remove", "a", "--remote", "orgin", cwd=clone)
    assert proc.returncode == 2 and "did you mean `origin`?" in proc.stderr
    assert remote_names(clone) == ["a", "b", "sw/t1", "sw/t2"]


def test_nothing_is_deleted_when_one_was_pushed_again_meanwhile(
    clone: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(clone)
    repo = open_repo(clone)
    seen = deleting.plan(repo, "origin", ["a", "b"])
    ok("run", "-n", "a2", "--", sys.executable, "-c", "print('acc: 2')", cwd=clone)
    new = git(clone, "rev-parse", "refs/experiments/a2").strip()
    git(clone, "push", "-q", "--force", "origin", f"{new}:refs/experiments/a")
    with pytest.raises(BackendError):
        deleting.delete_there(repo, seen)
    assert git(clone, "ls-remote", "origin", "refs/experiments/a").split()[0] == new
    assert remote_names(clone) == ["a", "b", "sw/t1", "sw/t2"]  # atomic: b stays too
