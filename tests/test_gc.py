"""`gitexp gc` says what is true: what it changes, counted by git's rules, and a
second call right after a first has nothing to do."""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import git, run_gitexp

from gitexp.gitstore.repo import open_repo
from gitexp.running import workdirs

MONTH = 30 * 24 * 3600
KEPT = "unreachable loose objects stay until they are 2 weeks old (git gc prunes them then)"


def gc(root: Path, *args: str) -> list[str]:
    proc = run_gitexp("gc", *args, cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert all(line.startswith("gitexp: ") for line in lines), lines
    return [line.removeprefix("gitexp: ") for line in lines]


def loose_objects(root: Path) -> int:
    return int(git(root, "count-objects", "-v").splitlines()[0].split(":")[1])


def loose_refs(root: Path) -> list[str]:
    found = []
    for folder, _, files in os.walk(root / ".git/refs"):
        found += [os.path.relpath(os.path.join(folder, f), root / ".git") for f in files]
    return sorted(found)


def pool(root: Path) -> Path:
    return workdirs.pool_dir(open_repo(root), None)


def run(root: Path, name: str) -> None:
    proc = run_gitexp("run", "-q", "-n", name, "--", "python", "train.py", cwd=root)
    assert proc.returncode == 0, proc.stderr


def test_gc_counts_what_git_gc_changes_and_a_second_gc_has_nothing_to_do(git_repo: Path) -> None:
    for name in ("a", "b", "c"):
        run(git_repo, name)
    # a symbolic ref is never packed: counting it would promise work on every call
    git(git_repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    git(git_repo, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    before = loose_objects(git_repo)
    planned = gc(git_repo, "--dry-run")
    assert planned[0].startswith("would remove 1 idle run directories (")
    packing = next(line for line in planned if line.startswith("would pack"))
    # refs/heads/main, the remote branch and the three experiments
    assert packing.startswith("would pack 5 loose refs and ")
    packed = int(packing.split(" and ")[1].split()[0])
    kept = next(int(line.split()[0]) for line in planned if line.endswith(KEPT))
    assert packed > 0 and kept > 0  # a run writes its ref's first commit, then replaces it
    assert packed + kept == before and loose_objects(git_repo) == before  # dry: untouched

    done = gc(git_repo)
    assert done == [line.replace("would remove", "removed").replace("would pack", "packed")
                    for line in planned]  # fmt: skip
    assert loose_objects(git_repo) == kept  # git kept exactly the unreachable ones
    assert loose_refs(git_repo) == ["refs/remotes/origin/HEAD"]
    assert not [p.name for p in pool(git_repo).iterdir()]  # folders, memories, lease files
    assert gc(git_repo) == ["nothing to do", f"{kept} {KEPT}"]
    assert gc(git_repo, "--dry-run") == ["nothing to do", f"{kept} {KEPT}"]
    run(git_repo, "d")  # the pool comes back after a gc
    assert (pool(git_repo) / "slot-0" / "train.py").is_file()


def age(root: Path, oid: str, seconds: int) -> None:
    path = root / ".git/objects" / oid[:2] / oid[2:]
    when = time.time() - seconds
    os.utime(path, (when, when))


def exists(root: Path, oid: str) -> bool:
    return subprocess.run(["git", "cat-file", "-e", oid], cwd=root, check=False).returncode == 0


def write(root: Path, text: str, *args: str) -> str:
    """An object git writes from ``text`` on stdin (hash-object -w, mktree)."""
    proc = subprocess.run(
        ["git", *args], cwd=root, input=text, capture_output=True, text=True, check=True
    )
    return proc.stdout.strip()


def test_old_unreachable_objects_are_pruned_unless_a_recent_one_reaches_them(
    git_repo: Path,
) -> None:
    git(git_repo, "gc", "-q")  # everything reachable packed
    lone = write(git_repo, "old and alone\n", "hash-object", "-w", "--stdin")
    held = write(git_repo, "old, held\n", "hash-object", "-w", "--stdin")
    tree = write(git_repo, f"100644 blob {held}\theld.txt\n", "mktree")
    commit = git(git_repo, "commit-tree", "-m", "recent, unreachable", tree).strip()
    for oid in (lone, held, tree):
        age(git_repo, oid, MONTH)
    assert gc(git_repo, "--dry-run") == [
        "would prune 1 unreachable loose objects older than 2 weeks (git gc)",
        f"3 {KEPT}",  # the recent commit, and the old tree and blob it reaches
    ]
    assert gc(git_repo) == [
        "pruned 1 unreachable loose objects older than 2 weeks (git gc)",
        f"3 {KEPT}",
    ]
    assert not exists(git_repo, lone)
    assert all(exists(git_repo, oid) for oid in (held, tree, commit))
    assert gc(git_repo) == ["nothing to do", f"3 {KEPT}"]
    git(git_repo, "config", "gc.pruneExpire", "never")
    age(git_repo, commit, MONTH)
    assert gc(git_repo) == [
        "nothing to do",
        "3 unreachable loose objects stay (gc.pruneExpire=never)",
    ]


def test_lease_files_of_gone_run_directories_are_removed_and_counted(git_repo: Path) -> None:
    run(git_repo, "a")
    assert gc(git_repo)[0].startswith("removed 1 idle run directories (")
    where = pool(git_repo)
    for n in (3, 5):  # left by an older gitexp, or a folder removed by hand
        (where / f"slot-{n}.lease").touch()
    (where / "slot-5.state").write_bytes(b"stale")
    held = os.open(where / "slot-7.lease", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(held, fcntl.LOCK_EX)  # a run holds slot 7: never touched
    try:
        assert gc(git_repo, "--dry-run")[0] == (
            "would remove 2 lease files of run directories already gone"
        )
        assert len(list(where.iterdir())) == 4
        assert gc(git_repo)[0] == "removed 2 lease files of run directories already gone"
        assert sorted(p.name for p in where.iterdir()) == ["slot-7.lease"]
        assert gc(git_repo)[0] == "nothing to do"
    finally:
        os.close(held)


def test_a_lease_file_gc_removed_under_a_run_is_never_taken(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that opened slot-0.lease just before gc removed it (and another run
    made and locked a new one) must not lease slot 0 through the old file."""
    repo = open_repo(git_repo)
    where = pool(git_repo)
    where.mkdir(parents=True)
    (where / "slot-0.lease").touch()
    real_flock = fcntl.flock
    others: list[int] = []

    def gc_in_between(fd: int, op: int) -> Any:
        if not others:  # gc removes the file; another run makes and locks a new one
            (where / "slot-0.lease").unlink()
            others.append(os.open(where / "slot-0.lease", os.O_RDWR | os.O_CREAT, 0o600))
            real_flock(others[0], fcntl.LOCK_EX)
        return real_flock(fd, op)

    monkeypatch.setattr(fcntl, "flock", gc_in_between)
    slot = workdirs.lease(repo, None)
    monkeypatch.undo()
    try:
        assert slot is not None and slot.path.name == "slot-1"
    finally:
        if slot is not None:
            slot.release()
        os.close(others[0])
