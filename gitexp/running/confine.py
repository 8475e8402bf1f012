"""Paths taken from an experiment or gitexp.yaml stay inside the run directory.

A reproduced experiment is someone else's tree: its gitexp.yaml (`metrics:`,
`outputs:`), its run.json (`cwd`) and its symlinks are written by them. gitexp
itself must never read a host file, record it, or run the command in a host
folder because of what such a tree says. Paths as written are checked when
gitexp.yaml is read (``settings.confined``); here the same paths are checked
again on disk, where a symlink of the tree could lead anywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import pygit2

from gitexp.common.errors import UsageError
from gitexp.config.settings import confined
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.trees import symlink_on_path


def inside(run_dir: Path, rel: str) -> bool:
    """``run_dir / rel``, symlinks followed, is ``run_dir`` or inside it."""
    top = Path(os.path.realpath(run_dir))
    full = Path(os.path.realpath(run_dir / rel))
    return full == top or top in full.parents


def check_cwd(repo: Repo, tree: pygit2.Oid, cwd: str) -> None:
    """Refuse a working directory that leaves the run directory: written so
    (``../``, absolute), or through a symlink of the tree (run.json's ``cwd`` of
    a pulled experiment is theirs to write)."""
    if cwd and (not confined(cwd) or symlink_on_path(repo, tree, cwd)):
        raise UsageError(
            f"working directory {cwd!r} is outside the run directory",
            "a run's cwd is a folder of its snapshot; the experiment's run.json "
            "may have been edited",
        )
