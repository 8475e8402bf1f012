"""Housekeeping on experiments: remove, rename, apply to the work tree, branch.

Only `apply` writes into the user's work tree, and it never touches the
index or HEAD: the applied files show up as ordinary uncommitted changes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2

from gitexp import explore, names, store
from gitexp.errors import UsageError
from gitexp.repo import Repo
from gitexp.snapshot import META_DIR, without_meta

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


def select_for_removal(
    repo: Repo, specs: Iterable[str], failed: bool, baseline: str | None
) -> dict[str, str]:
    """{name: commit} chosen by names, by status failed, and/or by baseline."""
    chosen = {name: str(oid) for name, oid in (store.resolve(repo, s) for s in specs)}
    if failed or baseline is not None:
        base = store.resolve_rev(repo, baseline) if baseline is not None else None
        for s in explore.list_summaries(repo):
            if (failed and s.status == "failed") or (base is not None and s.baseline == base):
                chosen[s.name] = s.commit
    return chosen


def remove(repo: Repo, chosen: dict[str, str], force: bool = False) -> list[str]:
    """Delete the refs (all or none); a running experiment needs ``force``."""
    if not force:
        running = [s.name for s in explore.get_summaries(repo, chosen) if s.status == "running"]
        if running:
            raise UsageError(
                "refusing to remove running experiments: " + ", ".join(running),
                "wait for them to finish, or pass --force",
            )
    store.remove_refs(repo, chosen)
    return sorted(chosen)


def rename(repo: Repo, spec: str, new: str) -> tuple[str, str]:
    """Rename an experiment's ref; the commit (and its run.json) stays as it is."""
    names.validate(new)
    old, _ = store.resolve(repo, spec)
    if explore.get_summaries(repo, [old])[0].status == "running":
        raise UsageError(f"experiment {old!r} is still running", "rename it when it has finished")
    store.rename_ref(repo, old, new)
    return old, new


def branch(repo: Repo, spec: str, branch_name: str) -> tuple[str, str, str]:
    """Create refs/heads/BRANCH at the experiment commit: (experiment, ref, commit)."""
    name, oid = store.resolve(repo, spec)
    return name, store.create_branch(repo, branch_name, str(oid)), str(oid)


@dataclass(frozen=True)
class Applied:
    name: str
    commit: str
    written: list[str]
    deleted: list[str]


def apply(repo: Repo, spec: str, force: bool = False) -> Applied:
    """Write an experiment's workspace (not .gitexp/) into the work tree.

    Refuses, unless ``force``, when tracked files have uncommitted changes or
    an untracked file would be overwritten: nothing of the user's is lost
    that git could not give back.
    """
    name, oid = store.resolve(repo, spec)
    commit: Any = repo.git[oid]
    files = _files(repo, without_meta(repo, commit.tree_id))
    run = explore.get_summaries(repo, [name])[0]
    keep = set(_links(repo, commit))
    head_files = _files(repo, repo.head_commit().tree_id) if not repo.git.head_is_unborn else {}
    doomed = [p for p in head_files if p not in files and not _under(p, keep)]
    if not force:
        _check_clean(repo, files)
    written = [p for p, (blob, mode) in files.items() if _write(repo, p, blob, mode)]
    deleted = [p for p in doomed if _delete(repo.root / p)]
    return Applied(run.name, run.commit, written, deleted)


def _files(repo: Repo, tree_id: pygit2.Oid) -> dict[str, tuple[pygit2.Oid, int]]:
    """{path: (blob id, mode)} of every file of a tree (submodules left out)."""
    out: dict[str, tuple[pygit2.Oid, int]] = {}
    stack: list[tuple[str, Any]] = [("", repo.git[tree_id])]
    while stack:
        prefix, tree = stack.pop()
        for entry in tree:
            path = prefix + entry.name
            if entry.type_str == "tree":
                stack.append((path + "/", repo.git[entry.id]))
            elif entry.type_str == "blob" and path != META_DIR:
                out[path] = (entry.id, entry.filemode)
    return out


def _links(repo: Repo, commit: Any) -> list[str]:
    """Paths the run linked in (DVC data, shared inputs): apply leaves them alone."""
    import json

    try:
        blob: Any = repo.git[commit.tree[store.RUN_JSON].id]
        run = json.loads(blob.data)
    except (KeyError, ValueError):
        return []
    links = run.get("links", []) if isinstance(run, dict) else []
    return [str(p) for p in links]


def _under(path: str, prefixes: set[str]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


def _check_clean(repo: Repo, files: dict[str, tuple[pygit2.Oid, int]]) -> None:
    dirty, clobbered = [], []
    for path, flags in repo.git.status(untracked_files="all", ignored=False).items():
        if flags & _TRACKED_CHANGES:
            dirty.append(path)
        elif (
            flags & pygit2.enums.FileStatus.WT_NEW
            and path in files
            and pygit2.hashfile(str(repo.root / path)) != files[path][0]
        ):
            clobbered.append(path)
    if dirty or clobbered:
        what = "uncommitted changes" if dirty else "untracked files it would overwrite"
        shown = sorted(dirty or clobbered)
        listed = ", ".join(shown[:5]) + (", …" if len(shown) > 5 else "")
        raise UsageError(
            f"refusing to apply: {what} ({listed})", "commit or stash them first, or use --force"
        )


def _write(repo: Repo, rel: str, blob_id: pygit2.Oid, mode: int) -> bool:
    """Write one file if it differs from what is there; True when written."""
    path = repo.root / rel
    blob: Any = repo.git[blob_id]
    data = bytes(blob.data)
    if mode == pygit2.enums.FileMode.LINK:
        if path.is_symlink() and os.readlink(path) == data.decode():
            return False
        _clear(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(data.decode(), path)
        return True
    if path.is_file() and not path.is_symlink() and pygit2.hashfile(str(path)) == blob_id:
        return _set_mode(path, mode)
    _clear(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    _set_mode(path, mode)
    return True


def _set_mode(path: Path, mode: int) -> bool:
    executable = mode == pygit2.enums.FileMode.BLOB_EXECUTABLE
    current = path.stat().st_mode
    wanted = current | 0o111 if executable else current & ~0o111
    if wanted != current:
        path.chmod(wanted)
        return True
    return False


def _clear(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        raise UsageError(f"cannot apply: {path} is a directory in the work tree")


def _delete(path: Path) -> bool:
    if path.is_symlink() or path.is_file():
        path.unlink()
        return True
    return False
