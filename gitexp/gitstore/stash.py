"""Save some paths' uncommitted changes as a `git stash` entry, work tree left as it is.

`gitexp apply --force` saves here what it is about to overwrite, so nothing
of the user's is lost. The entry has git's own shape, limited to the paths:
a commit W (the work tree's versions) whose parents are HEAD, I (the index's
versions) and, when untracked files are saved, U (those files alone). So
`git stash list`, `git stash show -p --include-untracked` and `git checkout
stash@{0} -- PATH` read it as they read `git stash push -- PATH`'s. Unlike
that command, the work tree and the index are not touched: apply writes over
those paths next. The ref and its reflog are written by `git stash store`.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pygit2

from gitexp.common.errors import GitexpError
from gitexp.gitstore import gitenv
from gitexp.gitstore.repo import Repo

_LINK = int(pygit2.enums.FileMode.LINK)
_BLOB = int(pygit2.enums.FileMode.BLOB)
_EXECUTABLE = int(pygit2.enums.FileMode.BLOB_EXECUTABLE)

#: path -> (blob id, mode), or None where the path is absent
Versions = Mapping[str, "tuple[pygit2.Oid, int] | None"]


class StashError(GitexpError):
    """`git stash store` refused the entry: nothing was overwritten."""


@dataclass(frozen=True)
class Stashed:
    """A stash entry made of the user's uncommitted changes to ``paths``."""

    commit: str
    paths: list[str]
    ref: str = "stash@{0}"


def save(repo: Repo, tracked: list[str], untracked: list[str], message: str) -> Stashed:
    """Stash the work-tree (and index) versions of ``tracked`` and the ``untracked``
    files as one entry at stash@{0}; the files themselves stay as they are."""
    head = repo.head_commit()
    who = repo.committer()
    where = _where(repo, head)
    index = _tree(repo, head.tree, {p: _indexed(repo, p) for p in tracked})
    i_commit = _commit(repo, f"index on {where}", index, [head.id])
    work = _tree(repo, repo.git[index], {p: _on_disk(repo, p) for p in tracked})
    parents = [head.id, i_commit]
    if untracked:
        alone = _tree(repo, None, {p: _on_disk(repo, p) for p in untracked})
        parents.append(_commit(repo, f"untracked files on {where}", alone, []))
    summary = f"On {where.split(':')[0]}: {message}"
    w_commit = _commit(repo, summary, work, parents)
    _store(repo, w_commit, summary, who)
    return Stashed(str(w_commit), sorted({*tracked, *untracked}))


def _where(repo: Repo, head: pygit2.Commit) -> str:
    """`main: 1a2b3c4 subject`, as git names the commit a stash was made on."""
    branch = "(no branch)" if repo.git.head_is_detached else repo.git.head.shorthand
    subject = head.message.splitlines()[0] if head.message.strip() else ""
    return f"{branch}: {str(head.id)[:7]} {subject}"


def _tree(repo: Repo, base: pygit2.Object | None, changes: Versions) -> pygit2.Oid:
    """``base``'s tree (or an empty one) with ``changes`` laid over it."""
    index = pygit2.Index()
    if base is not None:
        index.read_tree(base.peel(pygit2.Tree))
    for path, version in changes.items():
        if version is None:
            if path in index:
                index.remove(path)
        else:
            index.add(pygit2.IndexEntry(path, version[0], pygit2.enums.FileMode(version[1])))
    return index.write_tree(repo.git)


def _indexed(repo: Repo, path: str) -> tuple[pygit2.Oid, int] | None:
    """The index's version of ``path`` (None: not in the index)."""
    try:
        entry = repo.git.index[path]
    except KeyError:
        return None
    return entry.id, int(entry.mode)


def _on_disk(repo: Repo, path: str) -> tuple[pygit2.Oid, int] | None:
    """The work tree's version of ``path`` as a blob (None: no file there)."""
    full = repo.root / path
    if full.is_symlink():
        return repo.git.create_blob(os.fsencode(os.readlink(full))), _LINK
    if not full.is_file():
        return None
    mode = _EXECUTABLE if os.access(full, os.X_OK) else _BLOB
    return repo.git.create_blob_fromworkdir(path), mode


def _commit(repo: Repo, message: str, tree: pygit2.Oid, parents: list[pygit2.Oid]) -> pygit2.Oid:
    who = repo.committer()
    return repo.git.create_commit(None, who, who, message + "\n", tree, parents)


def _store(repo: Repo, commit: pygit2.Oid, message: str, who: pygit2.Signature) -> None:
    """refs/stash -> ``commit`` with its reflog entry, as `git stash` writes it."""
    env = gitenv.for_git({"GIT_COMMITTER_NAME": who.name, "GIT_COMMITTER_EMAIL": who.email})
    proc = subprocess.run(
        ["git", "stash", "store", "-m", message, str(commit)],
        cwd=Path(repo.root),
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["no reason given"])[-1]
        raise StashError(f"could not save your uncommitted changes in a stash: {detail}")
