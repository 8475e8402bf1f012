"""A folder of files written as one git tree, and set into ``.gitexp/`` of a tree.

Recording writes the metric histories this way: small files from memory,
chunk files from disk one at a time, so a history of any size is never held
whole (gitexp/running/histwriter.py). Blobs are written as they are: no
filter of the work tree's attributes applies to what gitexp generated.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pygit2

from gitexp.common.layout import META_DIR
from gitexp.gitstore.repo import Repo


def files_tree(repo: Repo, files: Mapping[str, bytes], disk: Mapping[str, Path]) -> pygit2.Oid:
    """A tree of ``files`` (path: content) and ``disk`` (path: file to read)."""
    index = pygit2.Index()
    mode = pygit2.enums.FileMode.BLOB
    for rel, data in files.items():
        index.add(pygit2.IndexEntry(rel, repo.git.create_blob(data), mode))
    for rel, path in disk.items():
        index.add(pygit2.IndexEntry(rel, repo.git.create_blob(path.read_bytes()), mode))
    oid: pygit2.Oid = index.write_tree(repo.git)
    return oid


def with_meta_tree(repo: Repo, tree_id: pygit2.Oid, name: str, subtree: pygit2.Oid) -> pygit2.Oid:
    """A copy of a tree with ``.gitexp/<name>`` set to ``subtree`` (two tree builders,
    whatever the tree's size)."""
    root = repo.git[tree_id].peel(pygit2.Tree)
    entry = root[META_DIR] if META_DIR in root else None  # noqa: SIM401 (Tree has no .get)
    meta = repo.git.TreeBuilder(entry.id) if entry is not None else repo.git.TreeBuilder()
    meta.insert(name, subtree, pygit2.enums.FileMode.TREE)
    builder = repo.git.TreeBuilder(root)
    builder.insert(META_DIR, meta.write(), pygit2.enums.FileMode.TREE)
    oid: pygit2.Oid = builder.write()
    return oid


def with_meta_folder(
    repo: Repo, tree_id: pygit2.Oid, name: str, files: Mapping[str, bytes], disk: Mapping[str, Path]
) -> pygit2.Oid:
    """``tree_id`` with ``.gitexp/<name>/`` holding exactly these files (unchanged if none)."""
    if not files and not disk:
        return tree_id
    return with_meta_tree(repo, tree_id, name, files_tree(repo, files, disk))
