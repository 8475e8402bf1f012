"""Snapshot a work tree into a git tree, and materialize trees into run dirs.

The snapshot never touches the user's index, HEAD, files or stash: it starts
from HEAD's tree in a private in-memory index and adds what `git status`
reports as changed or untracked (not ignored). Materializing records each
file's stat, so recording (gitexp/gitstore/changes.py) rehashes only what the
run changed.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pygit2

from gitexp.common.layout import META_DIR
from gitexp.common.paths import is_under, under_any
from gitexp.gitstore import gitenv, treewalk
from gitexp.gitstore.repo import MISSING_OBJECT, Repo
from gitexp.gitstore.status import work_tree_status

log = logging.getLogger(__name__)


class FileState(NamedTuple):
    """A materialized file: its blob id and mode, and the stat it was written with
    (a tuple: a manifest of 20,000 is built on every run)."""

    oid: pygit2.Oid
    mode: int
    size: int
    mtime_ns: int


Manifest = dict[str, FileState]


def snapshot_workdir(
    repo: Repo, exclude: Iterable[str] = (), status: dict[str, int] | None = None
) -> pygit2.Oid:
    """Tree of the work tree as it is now: HEAD + changes + untracked files.

    Files are stored as `git add` would (LFS pointers for LFS-tracked ones) and
    submodules at the commit they have checked out (gitexp/gitstore/contents.py).
    """
    from gitexp.gitstore import contents

    index = pygit2.Index()
    index.read_tree(repo.head_commit().tree)
    skip = tuple(exclude)
    entry = contents.entry_for(repo)
    status = status if status is not None else work_tree_status(repo)
    sparse = _outside_sparse_checkout(repo, status)
    for path in status:
        if _excluded(path, skip):
            continue
        full = repo.root / path
        if full.is_symlink() or full.is_file():
            index.add(entry(repo.git, full, path))
        elif path in sparse:
            continue  # not checked out (sparse checkout): the snapshot keeps HEAD's file
        elif path in index and index[path].mode != pygit2.enums.FileMode.COMMIT:
            index.remove(path)
    contents.fix_snapshot(repo, index)
    for prefix in (META_DIR, *skip):  # in C: no Python loop over 20,000 entries
        if prefix in index:
            index.remove(prefix)
        index.remove_directory(prefix)
    return index.write_tree(repo.git)


def _outside_sparse_checkout(repo: Repo, status: dict[str, int]) -> set[str]:
    """Files `git status` (libgit2) calls deleted that are only outside a sparse
    checkout (skip-worktree): they are in the commit, not gone."""
    gone = [p for p, flags in status.items() if flags & pygit2.enums.FileStatus.WT_DELETED]
    if not gone or not _config_bool(repo, "core.sparseCheckout"):
        return set()
    import subprocess

    proc = subprocess.run(
        ["git", "ls-files", "-v", "-z", "--", *gone],
        cwd=repo.root,
        env=gitenv.for_git(),  # the real index, not a hook's temporary one
        capture_output=True,
        check=False,
    )
    entries = proc.stdout.decode("utf-8", "surrogateescape").split("\0")
    return {e[2:] for e in entries if e.startswith("S ")}


def _config_bool(repo: Repo, key: str) -> bool:
    try:
        return bool(repo.git.config.get_bool(key))
    except (KeyError, ValueError, pygit2.GitError):
        return False


def _excluded(path: str, prefixes: tuple[str, ...]) -> bool:
    return is_under(path, META_DIR) or under_any(path, prefixes)


def entry_from_disk(git: pygit2.Repository, full: Path, path: str) -> pygit2.IndexEntry:
    """An index entry for a file or symlink on disk (its blob written)."""
    st = full.lstat()
    if stat.S_ISLNK(st.st_mode):
        oid = git.create_blob(os.readlink(full).encode())
        return pygit2.IndexEntry(path, oid, pygit2.enums.FileMode.LINK)
    oid = git.create_blob_fromdisk(str(full))
    executable = st.st_mode & 0o111
    mode = pygit2.enums.FileMode.BLOB_EXECUTABLE if executable else pygit2.enums.FileMode.BLOB
    return pygit2.IndexEntry(path, oid, mode)


def materialize(
    repo: Repo, tree_id: pygit2.Oid, dest: Path, missing: list[str] | None = None
) -> Manifest:
    """Write every file of the tree under ``dest``; return what was written. Files
    whose blob this clone lacks are reported, and added to ``missing``.

    The whole tree is validated first (`treewalk.entries`): an unsafe path
    raises `treewalk.UnsafeTreeError` before anything is written, and no write
    goes through a symlink.
    """
    manifest: Manifest = {}
    missing = [] if missing is None else missing
    found = treewalk.entries(repo.git, tree_id)
    with treewalk.SafeDir(dest) as out:
        for entry in found:
            if entry.mode == treewalk.TREE:
                out.make_dir(entry.path)
            elif entry.mode == treewalk.LINK:
                out.symlink(entry.path, entry.target)
                st = out.lstat(entry.path)
                if st is not None:  # a symlink is a snapshot file too (recording, reuse)
                    manifest[entry.path] = FileState(
                        entry.oid, entry.mode, st.st_size, st.st_mtime_ns
                    )
            else:
                try:
                    data = treewalk.blob_data(repo.git, entry)
                except MISSING_OBJECT:  # a partial clone: not fetched here
                    missing.append(entry.path)
                    continue
                st = out.write_file(entry.path, data, entry.mode)
                manifest[entry.path] = FileState(entry.oid, entry.mode, st.st_size, st.st_mtime_ns)
    report_missing(missing)
    return manifest


def report_missing(paths: list[str]) -> None:
    """One warning for files of a tree whose contents this clone does not have
    (a partial clone): the run goes on without them, never silently."""
    if not paths:
        return
    shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
    log.warning(
        "gitexp: warning: %d file(s) of the snapshot are not in this clone, so not in the "
        "run directory: %s (hint: fetch them, e.g. `git sparse-checkout add` or "
        "`git fetch` without --filter)",
        len(paths),
        shown,
    )


def _tree(git: pygit2.Repository, oid: pygit2.Oid) -> pygit2.Tree:
    tree = git[oid]
    assert isinstance(tree, pygit2.Tree)
    return tree


def _blob(git: pygit2.Repository, oid: pygit2.Oid) -> bytes:
    blob = git[oid]
    assert isinstance(blob, pygit2.Blob)
    return bytes(blob.data)


def tree_with_files(repo: Repo, tree_id: pygit2.Oid, files: dict[str, bytes]) -> pygit2.Oid:
    """A copy of a tree with some files added or replaced."""
    index = pygit2.Index()
    index.read_tree(_tree(repo.git, tree_id))
    for rel, data in files.items():
        index.add(pygit2.IndexEntry(rel, repo.git.create_blob(data), pygit2.enums.FileMode.BLOB))
    return index.write_tree(repo.git)


def blobs(repo: Repo, tree: pygit2.Tree | pygit2.Oid) -> Iterator[tuple[str, pygit2.Oid, int]]:
    """(path, blob id, mode) of every file and symlink of a tree (submodules left out).

    No path is checked: for reading a tree, never for writing it out
    (`treewalk.entries` is the one walker for that).
    """
    top = tree if isinstance(tree, pygit2.Tree) else _tree(repo.git, tree)
    stack: list[tuple[str, pygit2.Tree]] = [("", top)]
    while stack:
        prefix, tree = stack.pop()
        for entry in tree:
            path = prefix + str(entry.name)
            if entry.type_str == "tree":
                stack.append((path + "/", _tree(repo.git, entry.id)))
            elif entry.type_str == "blob":
                yield path, entry.id, entry.filemode


def without_meta(repo: Repo, tree_id: pygit2.Oid) -> pygit2.Oid:
    """An experiment's tree without its .gitexp/ record: the workspace it ran in."""
    tree = _tree(repo.git, tree_id)
    if META_DIR not in tree:
        return tree_id
    builder = repo.git.TreeBuilder(tree)
    builder.remove(META_DIR)
    oid: pygit2.Oid = builder.write()
    return oid


def read_blob(repo: Repo, tree_id: pygit2.Oid, path: str) -> bytes | None:
    """A file of a tree, or None when it is absent."""
    try:
        entry = _tree(repo.git, tree_id)[path]
    except KeyError:
        return None
    if entry.type_str != "blob":
        return None
    return _blob(repo.git, entry.id)


def symlink_on_path(repo: Repo, tree_id: pygit2.Oid, path: str) -> bool:
    """Whether ``path`` or a folder leading to it is a symlink in the tree (a run's
    cwd through one would leave the run directory)."""
    current: pygit2.Object = _tree(repo.git, tree_id)
    for part in os.path.normpath(path).split("/"):
        if not isinstance(current, pygit2.Tree) or part not in current:
            return False  # a folder the run will create: nothing to follow
        entry = current[part]
        if entry.filemode == pygit2.enums.FileMode.LINK:
            return True
        current = repo.git[entry.id]
    return False


def read_json(
    repo: Repo, tree: pygit2.Tree | pygit2.Oid | None, path: str, lost_ok: bool = False
) -> dict[str, Any]:
    """The JSON object a tree holds at ``path`` (run.json, metrics.json); {} when the
    path is absent or holds no JSON object.

    A blob the tree names but the object store has lost (`git gc --prune=now`
    beside a run) raises ``MISSING_OBJECT`` so that a reader can say `broken`
    (the summary cache); with ``lost_ok`` it reads as {} too.
    """
    root = repo.git[tree] if isinstance(tree, pygit2.Oid) else tree
    if not isinstance(root, pygit2.Tree):
        return {}
    try:
        entry = root[path]
    except KeyError:
        return {}
    try:
        blob = repo.git[entry.id]
    except MISSING_OBJECT:
        if lost_ok:
            return {}
        raise
    if not isinstance(blob, pygit2.Blob):
        return {}
    try:
        value = json.loads(blob.data)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
