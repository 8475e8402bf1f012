"""The files of an experiment's tree, for reading one by path (the web UI's file view).

Everything is read from git objects, never from the disk: a path names an entry
of the experiment's commit, so no path can reach outside the repository. A path
is still checked first (relative, posix, no ``.``/``..``/empty part, no
backslash or NUL) so that a mistake or an attack is told as such, not as "no
such file". The run's log is read from its end: that is where a failure shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gitexp.common.errors import UsageError
from gitexp.common.layout import OUTPUT_LOG
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.trees import blobs

MAX_BYTES = 1 << 20


class NoSuchFileError(UsageError):
    """The experiment's tree has no file at that path."""


@dataclass(frozen=True)
class TreeFile:
    """A file's bytes (its head, or for a log its tail), its size, and whether cut."""

    path: str
    data: bytes
    size: int
    truncated: bool

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")

    @property
    def binary(self) -> bool:
        return b"\0" in self.data[:8192]


def check_path(path: str) -> str:
    """``path`` when it is a clean relative posix path, else a UsageError."""
    parts = path.split("/")
    bad = (
        not path
        or path.startswith("/")
        or "\\" in path
        or "\0" in path
        or any(p in ("", ".", "..") for p in parts)
    )
    if bad:
        raise UsageError(f"bad file path {path!r}", "give a path inside the experiment, a/b.txt")
    return path


def list_files(repo: Repo, commit: str) -> list[tuple[str, int]]:
    """(path, size) of every file of the experiment's tree, sorted by path."""
    git: Any = repo.git
    return sorted((path, git[oid].size) for path, oid, _ in blobs(repo, git[commit].tree))


def read_file(
    repo: Repo, commit: str, path: str, limit: int = MAX_BYTES, tail: bool = False
) -> TreeFile:
    """A file of the experiment's tree: its first (``tail``: last) ``limit`` bytes."""
    git: Any = repo.git
    try:
        entry = git[commit].tree[check_path(path)]
    except KeyError:
        raise NoSuchFileError(f"the experiment has no file {path!r}") from None
    if entry.type_str != "blob":
        raise NoSuchFileError(f"{path!r} is a folder, not a file")
    data = bytes(git[entry.id].data)
    cut = data[-limit:] if tail else data[:limit]
    return TreeFile(path, cut, len(data), len(cut) < len(data))


def output_log(repo: Repo, commit: str, limit: int = MAX_BYTES) -> TreeFile | None:
    """The end of the run's captured output, or None when it recorded none (yet)."""
    try:
        return read_file(repo, commit, OUTPUT_LOG, limit, tail=True)
    except NoSuchFileError:
        return None
