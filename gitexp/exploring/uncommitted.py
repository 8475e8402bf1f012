"""Which uncommitted work `gitexp apply` would overwrite, found before it writes.

As git's checkout does: only a file apply writes or deletes counts. An
uncommitted change elsewhere is kept as it is and does not stop apply; one
where the work tree already holds what apply would leave there is no loss
either. What is left is refused, or with ``--force`` saved in a stash first
(gitstore/stash.py). Submodules are checked by `submodules.plan_restore`.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import pygit2

from gitexp.common.errors import UsageError
from gitexp.gitstore import gitenv, treewalk
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.status import work_tree_status

SHOWN = 5  # paths named in the refusal

_TRACKED_CHANGES = (
    pygit2.enums.FileStatus.WT_MODIFIED
    | pygit2.enums.FileStatus.WT_DELETED
    | pygit2.enums.FileStatus.WT_TYPECHANGE
    | pygit2.enums.FileStatus.WT_RENAMED
    | pygit2.enums.FileStatus.INDEX_NEW
    | pygit2.enums.FileStatus.INDEX_MODIFIED
    | pygit2.enums.FileStatus.INDEX_DELETED
    | pygit2.enums.FileStatus.INDEX_RENAMED
    | pygit2.enums.FileStatus.INDEX_TYPECHANGE
)


@dataclass(frozen=True)
class AtRisk:
    """The user's work apply would overwrite or delete."""

    tracked: list[str]  # uncommitted changes to files apply writes or deletes
    untracked: list[str]  # untracked files apply would overwrite with other content

    def __bool__(self) -> bool:
        return bool(self.tracked or self.untracked)


def at_risk(
    repo: Repo, files: Mapping[str, treewalk.Entry], doomed: Collection[str], subs: Collection[str]
) -> AtRisk:
    """Uncommitted work in ``files`` (to be written) and ``doomed`` (to be deleted)."""
    tracked, untracked = [], []
    for path, flags in work_tree_status(repo).items():  # git status past 100 levels
        if path in subs or (path not in files and path not in doomed):
            continue
        if _holds(repo, path, files.get(path)):
            continue
        if flags & _TRACKED_CHANGES:
            tracked.append(path)
        elif flags & pygit2.enums.FileStatus.WT_NEW:
            untracked.append(path)
    return AtRisk(sorted(really_changed(repo, tracked)), sorted(untracked))


def refuse(name: str, risk: AtRisk) -> None:
    """One line naming the files at risk; nothing has been written."""
    parts = []
    if risk.tracked:
        parts.append(
            f"uncommitted changes to files it would write or delete ({_listed(risk.tracked)})"
        )
    if risk.untracked:
        parts.append(f"untracked files it would overwrite ({_listed(risk.untracked)})")
    raise UsageError(
        f"refusing to apply {name!r}: {' and '.join(parts)}; nothing was written",
        "commit or stash them first, or use --force, which saves them in a stash first",
    )


def _listed(paths: list[str]) -> str:
    return ", ".join(paths[:SHOWN]) + (", …" if len(paths) > SHOWN else "")


def _holds(repo: Repo, path: str, entry: treewalk.Entry | None) -> bool:
    """The work tree already has what apply leaves at ``path``: nothing to lose there."""
    try:
        st = os.lstat(repo.root / path)
    except FileNotFoundError:
        return entry is None
    if entry is None:
        return False
    if entry.mode == treewalk.LINK:
        return stat.S_ISLNK(st.st_mode) and os.readlink(repo.root / path) == entry.target
    executable = bool(st.st_mode & 0o111)
    return (
        stat.S_ISREG(st.st_mode)
        and executable == (entry.mode == treewalk.EXECUTABLE)
        and pygit2.hashfile(str(repo.root / path)) == entry.oid
    )


def really_changed(repo: Repo, paths: list[str]) -> list[str]:
    """Of the files libgit2 calls modified, those git itself does too: libgit2 runs
    no external filter, so a Git LFS file it had to re-read always looks modified."""
    if not paths:
        return paths
    proc = subprocess.run(
        ["git", "status", "--porcelain", "-z", "--untracked-files=no", "--", *paths],
        cwd=repo.root,
        env=gitenv.for_git(),  # the real index, whatever a hook set
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        return paths
    listed = {e[3:] for e in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if e}
    return [p for p in paths if p in listed]
