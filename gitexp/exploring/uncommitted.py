"""What `gitexp apply` checks in the work tree before it writes: uncommitted work."""

from __future__ import annotations

import pygit2

from gitexp.common.errors import UsageError
from gitexp.gitstore import treewalk
from gitexp.gitstore.repo import Repo

_TRACKED_CHANGES = (
    pygit2.enums.FileStatus.WT_MODIFIED
    | pygit2.enums.FileStatus.WT_DELETED
    | pygit2.enums.FileStatus.WT_TYPECHANGE
    | pygit2.enums.FileStatus.WT_RENAMED
    | pygit2.enums.FileStatus.INDEX_NEW
    | pygit2.enums.FileStatus.INDEX_MODIFIED
    | pygit2.enums.FileStatus.INDEX_DELETED
    | pygit2.enums.FileStatus.INDEX_RENAMED
    | pygit2.enums.FileStatus.INDEX_TYPECHANGE
)


def check_clean(repo: Repo, files: dict[str, treewalk.Entry], subs: set[str]) -> None:
    """Refuse uncommitted changes (submodules: `submodules.plan_restore` checks them)."""
    dirty, clobbered = [], []
    for path, flags in repo.git.status(untracked_files="all", ignored=False).items():
        if path in subs:
            continue
        if flags & _TRACKED_CHANGES:
            dirty.append(path)
        elif (
            flags & pygit2.enums.FileStatus.WT_NEW
            and path in files
            and pygit2.hashfile(str(repo.root / path)) != files[path].oid
        ):
            clobbered.append(path)
    dirty = really_changed(repo, dirty)
    if dirty or clobbered:
        what = "uncommitted changes" if dirty else "untracked files it would overwrite"
        shown = sorted(dirty or clobbered)
        listed = ", ".join(shown[:5]) + (", …" if len(shown) > 5 else "")
        raise UsageError(
            f"refusing to apply: {what} ({listed})", "commit or stash them first, or use --force"
        )


def really_changed(repo: Repo, paths: list[str]) -> list[str]:
    """Of the files libgit2 calls modified, those git itself does too: libgit2 runs
    no external filter, so a Git LFS file it had to re-read always looks modified."""
    if not paths:
        return paths
    import subprocess

    proc = subprocess.run(
        ["git", "status", "--porcelain", "-z", "--untracked-files=no", "--", *paths],
        cwd=repo.root,
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        return paths
    listed = {e[3:] for e in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if e}
    return [p for p in paths if p in listed]
