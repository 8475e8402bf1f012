"""Large untracked files: never snapshotted into git blobs.

A 200 MB data file lying in the work tree, neither tracked nor ignored,
would otherwise become a git blob in the first run's snapshot and travel
with every `gitexp push`. Untracked, non-ignored files at or above the
artifacts threshold (``artifacts.threshold``, 5 MB by default) are handled
before the snapshot (files Git LFS tracks are left to it):

- with DVC set up, each goes to the DVC cache like a large output: the
  experiment's tree holds ``<path>.dvc`` (marked ``gitexp: input``) and the
  data is linked into the run dir from the cache, like a `dvc add` input;
- without DVC the run is refused in one line naming the files and the three
  ways out (ignore them and list them under ``link:``, `dvc add` them, or
  ``--allow-large`` to snapshot them into git anyway).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pygit2

from gitexp.common.errors import UsageError
from gitexp.common.paths import under_any
from gitexp.config.settings import Config
from gitexp.dvcstore import cache
from gitexp.dvcstore.settings import artifacts_settings
from gitexp.gitstore import lfs
from gitexp.gitstore.repo import Repo

INPUT_MARK = "input"


@dataclass(frozen=True)
class LargeFiles:
    """Untracked files too large for git: their paths (excluded from the snapshot)
    and the `.dvc` pointers that stand in for them."""

    paths: tuple[str, ...] = ()
    pointers: dict[str, bytes] = field(default_factory=dict)


def find(
    repo: Repo, config: Config, exclude: tuple[str, ...], status: dict[str, int]
) -> list[tuple[str, int]]:
    """(path, size) of untracked, non-ignored files at or above the threshold."""
    threshold = artifacts_settings(config).threshold
    found = []
    for path, flags in status.items():
        if not flags & pygit2.enums.FileStatus.WT_NEW or under_any(path, exclude):
            continue
        full = repo.root / path
        if full.is_file() and not full.is_symlink():
            size = full.stat().st_size
            if size >= threshold:
                found.append((path, size))
    if found:  # Git LFS is the user's own way to keep large files out of git
        attrs = lfs.disk_attributes(repo, repo.root)
        found = [(p, s) for p, s in found if attrs.value(p) != "lfs"]
    return sorted(found)


def handle(
    repo: Repo, config: Config, exclude: tuple[str, ...], status: dict[str, int], allow: bool
) -> LargeFiles:
    """Send large untracked files to DVC, or refuse; nothing when ``allow``."""
    if allow:
        return LargeFiles()
    large = find(repo, config, exclude, status)
    if not large:
        return LargeFiles()
    if not cache.dvc_ready(repo.root):
        raise LargeUntrackedError(large)
    chosen = {path: "large-untracked" for path, _ in large}
    _, pointers = cache.add(repo.root, repo.root, chosen, INPUT_MARK)
    return LargeFiles(tuple(chosen), pointers)


class LargeUntrackedError(UsageError):
    def __init__(self, large: list[tuple[str, int]]) -> None:
        shown = ", ".join(f"{p} ({_mb(s)})" for p, s in large[:5]) + (
            f" and {len(large) - 5} more" if len(large) > 5 else ""
        )
        super().__init__(
            f"untracked files too large to snapshot into git: {shown}",
            "ignore them and list them under `link:` in gitexp.yaml, `dvc add` them "
            "(or `gitexp init --dvc`), or pass --allow-large",
        )


def _mb(size: int) -> str:
    return f"{size / 2**20:.1f} MB"
