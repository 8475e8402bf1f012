"""What a tree's files hold beyond plain blobs: submodule checkouts and Git LFS data.

The snapshot, the run dir and recording all meet these two in the same
places, so they meet them here, through four functions the rest of gitexp
calls without knowing which of the two (or neither) a repository uses:

- ``entry_for(repo)``: how a file of the work tree becomes an index entry
  (an LFS-tracked file: its LFS pointer, as `git add` stores it);
- ``fix_snapshot(repo, index)``: the snapshot's gitlinks (each submodule at
  the commit it has checked out now);
- ``complete(repo, tree, dest, manifest)``: after a tree is written to a run
  dir, put in what a blob does not hold (each submodule's files at its
  commit, LFS contents instead of pointers); returns the manifest with what
  it wrote, so recording sees those files as unchanged;
- ``foreign(repo, tree)``: paths whose contents belong to another repository
  (submodules): recording never hashes what is below them.

Each costs nothing in a repository that uses neither.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pygit2

from gitexp.gitstore import lfs, submodules
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.trees import Manifest, entry_from_disk, materialize

EntryFn = Callable[[pygit2.Repository, Path, str], pygit2.IndexEntry]


def entry_for(repo: Repo) -> EntryFn:
    """The function that turns a work-tree file into an index entry."""
    return lfs.entry_for(repo, entry_from_disk)


def fix_snapshot(repo: Repo, index: pygit2.Index) -> None:
    """Set each gitlink of the snapshot's index to what the work tree has checked out."""
    submodules.fix_snapshot(repo, index)


def complete(repo: Repo, tree: pygit2.Oid, dest: Path, manifest: Manifest) -> Manifest:
    """Fill in submodule files and LFS contents after ``tree`` was written to ``dest``."""
    manifest = submodules.complete(repo, tree, dest, manifest)
    return lfs.complete(repo, dest, manifest)


def foreign(repo: Repo, tree: pygit2.Oid) -> tuple[str, ...]:
    """Paths below which files belong to another repository (submodules)."""
    return submodules.foreign(repo, tree)


def checkout(repo: Repo, tree: pygit2.Oid, dest: Path) -> Manifest:
    """Write ``tree`` under ``dest`` in full, then ``complete`` it."""
    return complete(repo, tree, dest, materialize(repo, tree, dest))
