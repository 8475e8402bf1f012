"""A cheap stamp of where the experiment refs are stored: it changes when a ref may have.

Reading every experiment ref costs about 0.1 s at 10,000 (a file each); a
server answering many requests wants to know first whether anything moved.
Git's files backend changes a folder whenever it writes a ref in it (the
lock file is created there, then renamed over the ref) and rewrites
``packed-refs`` whole, so the modification times (in nanoseconds) of
``refs/experiments/`` and every folder below it, and of ``packed-refs``,
change whenever a ref is created, moved or deleted. A folder's subfolders
are listed again only when its own time changed.

Times are only as fine as the filesystem and the kernel keep them (Linux
stamps files at its clock tick, a few milliseconds), so a second write in the
same tick, after the stamp was taken, can go unseen: callers read the refs
anyway every few seconds (``ExperimentTable`` does). A repository in the
reftable format has no such stamp (None).
"""

from __future__ import annotations

import os
from pathlib import Path

from gitexp.gitstore.repo import Repo

Stamp = tuple[tuple[str, int], ...]


class RefStamp:
    """Stamps of one repository's experiment refs (remembers folders between calls)."""

    def __init__(self, repo: Repo) -> None:
        common = repo.state_dir.parent  # worktrees share the common git dir's refs
        self.packed = common / "packed-refs"
        self.top = common / "refs" / "experiments"
        self.reftable = (common / "reftable").exists()
        self._folders: dict[Path, tuple[int, list[Path]]] = {}

    def stamp(self) -> Stamp | None:
        """The current stamp; None when there is none to take (reftable)."""
        if self.reftable:
            return None
        found = [("packed-refs", _mtime(self.packed))]
        stack = [self.top]
        while stack:
            folder = stack.pop()
            mtime = _mtime(folder)
            found.append((str(folder), mtime))
            stack.extend(self._subfolders(folder, mtime))
        return tuple(found)

    def _subfolders(self, folder: Path, mtime: int) -> list[Path]:
        known = self._folders.get(folder)
        if known is not None and known[0] == mtime:
            return known[1]
        try:
            with os.scandir(folder) as entries:
                subs = [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]
        except OSError:  # gone, or never made: no experiment yet
            subs = []
        self._folders[folder] = (mtime, subs)
        return subs


def _mtime(path: Path) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1
