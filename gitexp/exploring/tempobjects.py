"""Temporary object files a killed writer left in ``.git/objects`` (for `gitexp gc`).

libgit2 writes an object to ``objects/tmp_object_git2_*`` and renames it into
place when it is whole; git does the same with ``tmp_obj_*``, and a push into
this repository first lands in a quarantine folder ``objects/incoming-*``. A
writer killed with SIGKILL (a `gitexp run` recording a 50 MB output) leaves
them behind, and git never removes the ones at the top of ``objects/``.

A writer busy on one changes it all the time, so age is the test: one
untouched for ``QUIET_S`` (10 minutes) goes when no experiment of this
repository runs, and one untouched for ``STALE_S`` (an hour) goes anyway (a
run paused with Ctrl-Z for an hour in the middle of writing an object then
fails that write, and says so; nothing recorded is lost). A folder's age is
that of its newest entry.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

FILE_PREFIXES = ("tmp_object_git2_", "tmp_obj_")
FOLDER_PREFIX = "incoming-"
QUIET_S = 10 * 60.0
STALE_S = 60 * 60.0


@dataclass(frozen=True)
class Leftover:
    path: Path
    size: int
    age_s: float


def find(objects: Path, now: float | None = None) -> list[Leftover]:
    """Every temporary object file or quarantine folder, with its size and age."""
    moment = time.time() if now is None else now
    found = []
    for folder in [objects, *_fanout(objects)]:
        for entry in _entries(folder):
            if _is_temp(entry, top=folder == objects):
                size, newest = _measure(Path(entry.path))
                found.append(Leftover(Path(entry.path), size, max(0.0, moment - newest)))
    return found


def removable(found: list[Leftover], running: bool) -> list[Leftover]:
    """Those old enough to go: ``STALE_S``, or ``QUIET_S`` when nothing runs."""
    limit = STALE_S if running else QUIET_S
    return [f for f in found if f.age_s >= limit]


def remove(leftovers: list[Leftover]) -> int:
    """Delete them; the bytes given back (one that vanished meanwhile counts 0)."""
    freed = 0
    for item in leftovers:
        try:
            if item.path.is_dir() and not item.path.is_symlink():
                shutil.rmtree(item.path)
            else:
                item.path.unlink()
        except FileNotFoundError:
            continue  # its writer finished (renamed it) or another gc took it
        freed += item.size
    return freed


def _fanout(objects: Path) -> list[Path]:
    return [Path(e.path) for e in _entries(objects) if len(e.name) == 2 and _is_dir(e)]


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as it:
            return list(it)
    except OSError:
        return []


def _is_temp(entry: os.DirEntry[str], top: bool) -> bool:
    if entry.name.startswith(FILE_PREFIXES):
        return entry.is_file(follow_symlinks=False)
    return top and entry.name.startswith(FOLDER_PREFIX) and _is_dir(entry)


def _is_dir(entry: os.DirEntry[str]) -> bool:
    return entry.is_dir(follow_symlinks=False)


def _measure(path: Path) -> tuple[int, float]:
    """(bytes, newest mtime) of a file, or of a folder and everything in it."""
    try:
        st = path.lstat()
    except OSError:
        return 0, time.time()  # gone meanwhile: never old
    size, newest = st.st_size, st.st_mtime
    for folder, dirs, files in os.walk(path) if path.is_dir() else []:
        for name in [*dirs, *files]:
            try:
                sub = Path(folder, name).lstat()
            except OSError:
                continue
            size, newest = size + sub.st_size, max(newest, sub.st_mtime)
    return size, newest
