"""Experiment refs read from git's files backend, limited to a prefix when asked.

libgit2 looks one ref up cheaply (a loose file, else a binary search of the
mmapped ``packed-refs``), but it can only *list* every ref of the repository,
and pygit2 builds a Python object per ref on the way. gitexp asks two
questions at scale: "which refs are under this name?" (the leaf/folder rule,
a name prefix, a sweep's trials) and "every experiment ref, with its commit"
(`gitexp show`). Both are answered here from what git writes, the way git's
own files backend reads it:

- loose refs first, then ``packed-refs`` (git's order: `git pack-refs` writes
  the packed file before it deletes the loose ones, so a ref is never missed);
  a loose ref wins over a packed one of the same name;
- under a prefix, only the matching folder is walked and ``packed-refs`` (sorted,
  as git and libgit2 write it) is binary-searched, so the cost is that of the
  answer, not of the repository's size;
- lock files (``*.lock``), symbolic refs and malformed files are skipped.

A repository whose refs are not in the files backend (reftable) is listed
through libgit2. Refs live in the common git dir: worktrees share them.
"""

from __future__ import annotations

import mmap
import os
import re
from collections.abc import Iterator
from pathlib import Path

from gitexp.gitstore.repo import Repo

PACKED = "packed-refs"
_SHA = re.compile(rb"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1, SHA-256
_SHA_LENGTHS = (40, 64)  # SHA-1, SHA-256


def refs_dir(repo: Repo) -> Path:
    """The git dir refs/experiments/ lives in (a worktree's is the common one)."""
    return repo.state_dir.parent


def under(repo: Repo, prefix: str, strip: int = 0) -> dict[str, str]:
    """{ref name: commit hex} of every ref whose name starts with ``prefix``
    (``refs/experiments/`` for all experiments, ``refs/experiments/sweep/`` for a
    folder, ``refs/experiments/bold-`` for a name prefix); each name without its
    first ``strip`` characters."""
    root = refs_dir(repo)
    if (root / "reftable").is_dir():
        return {n[strip:]: c for n, c in _through_libgit2(repo, prefix).items()}
    loose = {n[strip:]: c for n, c in _loose(root, prefix)}  # before packed-refs: see above
    found = _packed(root / PACKED, prefix, strip)
    found.update(loose)
    return found


def any_under(repo: Repo, prefix: str) -> bool:
    """Whether some ref's name starts with ``prefix``; stops at the first one."""
    root = refs_dir(repo)
    if (root / "reftable").is_dir():
        return bool(_through_libgit2(repo, prefix))
    return next(_loose(root, prefix), None) is not None or bool(_packed(root / PACKED, prefix))


def _loose(root: Path, prefix: str) -> Iterator[tuple[str, str]]:
    """Loose refs under ``prefix``: only the folder holding it is listed."""
    folder, _, start = prefix.rpartition("/")
    if not folder.startswith("refs") or ".." in folder.split("/"):
        return
    yield from _walk(root, folder, start)


def _walk(root: Path, folder: str, start: str) -> Iterator[tuple[str, str]]:
    """Files are opened relative to their folder's descriptor, and read with one
    system call: 100,000 loose refs in 0.6 s, against 2 s through ``open()``."""
    try:
        fd = os.open(root / folder, os.O_RDONLY | os.O_DIRECTORY)
    except (OSError, ValueError):  # absent, not a folder, or an impossible name
        return
    try:
        with os.scandir(fd) as found:
            entries = [(e.name, e.is_dir(follow_symlinks=False)) for e in found]
        for name, is_dir in entries:
            if not name.startswith(start) or name.endswith(".lock"):
                continue
            if is_dir:
                yield from _walk(root, f"{folder}/{name}", "")
            elif (sha := _read_loose(fd, name)) is not None:
                yield f"{folder}/{name}", sha
    finally:
        os.close(fd)


def _read_loose(folder: int, name: str) -> str | None:
    """The commit a loose ref file holds; None for a symbolic or broken one."""
    try:
        fd = os.open(name, os.O_RDONLY, dir_fd=folder)
    except OSError:  # deleted meanwhile
        return None
    try:
        data = os.read(fd, 128).rstrip()
    except OSError:
        return None
    finally:
        os.close(fd)
    return data.decode() if _SHA.fullmatch(data) else None


def _packed(path: Path, prefix: str, strip: int = 0) -> dict[str, str]:
    """Records of ``packed-refs`` whose name starts with ``prefix``."""
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                return {}
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                chunk = _range(data, prefix.encode())
    except FileNotFoundError:
        return {}
    lines = chunk.decode("utf-8", "surrogateescape").split("\n")
    for n in _SHA_LENGTHS:  # `<sha> <name>` at fixed offsets: 100,000 lines in 0.05 s
        found = {ln[n + 1 + strip :]: ln[:n] for ln in lines if _holds(ln, n, prefix)}
        if found:
            return found
    return {}


def _holds(line: str, n: int, prefix: str) -> bool:
    """A record of an ``n``-digit id under ``prefix`` (not a ``^`` peeled line, nor #)."""
    return line[n : n + 1] == " " and line.startswith(prefix, n + 1) and line[:1] != "^"


def _range(data: mmap.mmap, prefix: bytes) -> bytes:
    """The lines of a sorted file that can hold names under ``prefix``: two
    bisections bound them (an unsorted file, from an old git, is read whole)."""
    header_end = data.find(b"\n") + 1 if data[:1] == b"#" else 0
    if b" sorted" not in data[:header_end]:
        return data[header_end:]
    start = _first_at_least(data, header_end, prefix)
    return data[start : _first_at_least(data, start, prefix + b"\xff")]


def _first_at_least(data: mmap.mmap, lo: int, key: bytes) -> int:
    """Offset of the first record whose name is >= ``key`` (git's own bisection of
    a sorted ``packed-refs``: refs/packed-backend.c, find_reference_location)."""
    hi = len(data)
    while lo < hi:
        mid = _record_start(data, lo, lo + (hi - lo) // 2)
        if _record_name(data, mid) < key:
            lo = _record_end(data, mid, hi)
        else:
            hi = mid
    return lo


def _record_start(data: mmap.mmap, floor: int, pos: int) -> int:
    """Back from ``pos`` to the start of its record (a ``^`` line is not one)."""
    start = max(data.rfind(b"\n", floor, pos) + 1, floor)
    while start > floor and data[start : start + 1] == b"^":
        start = max(data.rfind(b"\n", floor, start - 1) + 1, floor)
    return start


def _record_end(data: mmap.mmap, pos: int, end: int) -> int:
    """Past the record at ``pos`` and its ``^`` line, if any."""
    while pos < end:
        eol = data.find(b"\n", pos)
        pos = end if eol < 0 else eol + 1
        if data[pos : pos + 1] != b"^":
            return pos
    return end


def _record_name(data: mmap.mmap, pos: int) -> bytes:
    eol = data.find(b"\n", pos)
    line = data[pos : len(data) if eol < 0 else eol]
    return line.partition(b" ")[2]


def _through_libgit2(repo: Repo, prefix: str) -> dict[str, str]:
    import pygit2

    found = {}
    for ref in repo.git.references.iterator():
        target = ref.target
        if ref.name.startswith(prefix) and isinstance(target, pygit2.Oid):
            found[ref.name] = str(target)
    return found
