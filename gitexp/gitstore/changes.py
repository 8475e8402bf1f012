"""What a run changed in its directory, and the experiment tree built from only that.

A run dir holds the snapshot's files (its ``Manifest``: blob id, mode, and
the stat each was written with) plus whatever the run did. One ``scan``
(a stat per entry, no reads) tells which files are new or changed and which
were deleted; the experiment tree is the snapshot's tree with only those
entries replaced, added or removed, so recording costs what the run changed,
not what the repository holds.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pygit2

from gitexp.common.paths import under_any
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.trees import FileState, Manifest

_COMMIT = pygit2.enums.FileMode.COMMIT


@dataclass(frozen=True)
class Scan:
    """Every file and symlink below a root (stat not followed), and every folder."""

    files: dict[str, os.stat_result] = field(default_factory=dict)
    dirs: list[str] = field(default_factory=list)


def scan(root: Path) -> Scan:
    """One stat per entry; symlinked folders are entries, never followed; a top-level
    ``.git`` is left out."""
    out = Scan()
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        with os.scandir(root / rel_dir if rel_dir else root) as entries:
            for entry in entries:
                rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                if entry.is_dir(follow_symlinks=False):
                    if rel != ".git":
                        out.dirs.append(rel)
                        stack.append(rel)
                else:
                    out.files[rel] = entry.stat(follow_symlinks=False)
    return out


@dataclass(frozen=True)
class Changes:
    """Paths (posix, relative) the run created or changed, and snapshot files it deleted."""

    changed: list[str]
    deleted: list[str]


def changes(manifest: Manifest, found: Scan) -> Changes:
    """Compare a scan with the manifest the run dir was written with."""
    changed = [
        rel
        for rel, st in found.files.items()
        if (known := manifest.get(rel)) is None or not unchanged(known, st)
    ]
    deleted = [rel for rel in manifest if rel not in found.files]
    return Changes(sorted(changed), sorted(deleted))


def unchanged(known: FileState, st: os.stat_result) -> bool:
    """Same size and mtime as written. A run starts tens of milliseconds after its
    files are written, so a change it makes always moves the (coarse) mtime."""
    is_link = stat.S_ISLNK(st.st_mode)
    return (
        is_link == (known.mode == pygit2.enums.FileMode.LINK)
        and known.size == st.st_size
        and known.mtime_ns == st.st_mtime_ns
    )


def tree_from_changes(
    repo: Repo,
    base: pygit2.Oid | None,
    root: Path,
    delta: Changes,
    keep: Callable[[str], bool],
    extra: dict[str, bytes],
    dropped: Iterable[str] = (),
    foreign: tuple[str, ...] = (),
) -> pygit2.Oid:
    """``base`` (the snapshot) with the run's changes: changed files that ``keep``
    accepts are hashed in, others removed; deleted files and anything under
    ``dropped`` (replaced by DVC pointers) removed; ``extra`` files added;
    nothing below ``foreign`` (submodules: `contents.foreign` of the snapshot)
    is looked at. Without a base, ``delta.changed`` must list every file (a
    fresh rebuild)."""
    from gitexp.gitstore import contents

    entry = contents.entry_for(repo)
    index = pygit2.Index()
    if base is not None:
        index.read_tree(repo.git[base].peel(pygit2.Tree))
    gone = {rel for rel in delta.deleted if not under_any(rel, foreign)}
    drop = tuple(dropped)
    if drop:
        gone |= {e.path for e in index if under_any(e.path, drop) and e.mode != _COMMIT}
    for rel in sorted(gone):
        if rel in index:
            index.remove(rel)
    for rel in delta.changed:
        if under_any(rel, foreign):
            continue  # a submodule's files: its commit is what the experiment records
        if keep(rel):
            index.add(entry(repo.git, root / rel, rel))
        elif rel in index:
            index.remove(rel)
    for rel, data in extra.items():
        index.add(pygit2.IndexEntry(rel, repo.git.create_blob(data), pygit2.enums.FileMode.BLOB))
    oid: pygit2.Oid = index.write_tree(repo.git)
    return oid
