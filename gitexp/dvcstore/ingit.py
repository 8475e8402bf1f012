"""Artifacts the experiment commit holds itself: DVC is not set up, or failed.

A path given to ``log_artifact`` or matching ``outputs:`` is then committed as
an ordinary file, and run.json still lists it under ``artifacts`` so `show
NAME`, `artifacts list|pull`, the registry and the UI find it, as MLflow users
expect: ``{"path", "store": "git", "size", "blob" | "nfiles", "reason"}``. The
blob id is what `git rev-parse REF:PATH` prints (a file Git LFS tracks has
``"lfs": true`` instead; a folder has ``nfiles``). DVC entries have no
``store`` key and always an ``md5``: `in_git` tells the two apart. A file
chosen only for its size is not listed: it is just a large file in git.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitexp.common.errors import BackendError
from gitexp.common.paths import is_under
from gitexp.gitstore import lfs, store, treewalk
from gitexp.gitstore.repo import Repo, open_repo

log = logging.getLogger(__name__)
STORE = "git"
LISTED = ("logged", "outputs")  # why a file was chosen: these are artifacts, `size` is not


def in_git(record: dict[str, Any]) -> bool:
    """The run.json entry of an artifact the commit holds (no DVC object)."""
    return record.get("store") == STORE


def records(
    run_dir: Path, chosen: dict[str, str], in_lfs: Callable[[str], bool]
) -> list[dict[str, Any]]:
    """run.json entries for ``{path: why}`` committed to git instead of DVC; a file
    that cannot be read now is left out of the list (it is committed all the same)."""
    found = []
    for rel, why in sorted(chosen.items()):
        if why not in LISTED:
            continue
        try:
            found.append(entry(run_dir, rel, why, in_lfs(rel)))
        except OSError:
            log.debug("cannot describe artifact %s", rel, exc_info=True)
    return found


def entry(run_dir: Path, rel: str, why: str, lfs_tracked: bool) -> dict[str, Any]:
    """One artifact's entry: its size and checksum (a file's blob id) or file count."""
    full = run_dir / rel
    record: dict[str, Any] = {"path": rel, "store": STORE}
    if full.is_dir() and not full.is_symlink():
        sizes = [os.lstat(Path(d) / f).st_size for d, _, fs in os.walk(full) for f in fs]
        record.update(size=sum(sizes), nfiles=len(sizes))
    else:
        record["size"] = full.lstat().st_size
        if lfs_tracked:
            record["lfs"] = True
        elif not full.is_symlink():
            record["blob"] = blob_id(full)
    record["reason"] = why
    return record


def blob_id(path: Path) -> str:
    """The id git gives the file's bytes (`git hash-object`), read in chunks."""
    digest = hashlib.sha1(usedforsecurity=False)
    with path.open("rb") as data:
        digest.update(b"blob %d\0" % os.fstat(data.fileno()).st_size)
        for chunk in iter(lambda: data.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Held:
    """A git-stored artifact to write out: the commit's entries at and below its path."""

    path: str
    entries: list[treewalk.Entry]


def plan(root: Path, experiment: str, paths: Iterable[str]) -> tuple[Repo, list[Held]]:
    """The entries of each path in the experiment's commit, the whole tree checked
    first (it may come from a remote); a path the commit lacks is an error."""
    repo = open_repo(root)
    _, commit = store.resolve(repo, experiment)
    obj: Any = repo.git[commit]  # resolve checked it is a commit
    tree = obj.tree_id
    try:
        found = treewalk.entries(repo.git, tree)
    except treewalk.UnsafeTreeError as exc:
        raise exc.naming(experiment) from None
    held = [Held(p, [e for e in found if is_under(e.path, p)]) for p in paths]
    for item in held:
        if not item.entries:
            raise BackendError(f"artifact {item.path} is not in experiment {experiment}'s commit")
    return repo, held


def write(repo: Repo, out: treewalk.SafeDir, held: Held) -> None:
    """Write one artifact's files (folders, links, file contents) below ``out``."""
    for e in held.entries:
        if e.mode == treewalk.TREE:
            out.make_dir(e.path)
        elif e.mode == treewalk.LINK:
            out.symlink(e.path, e.target)
        else:
            out.write_file(e.path, _content(repo, e), e.mode)


def _content(repo: Repo, e: treewalk.Entry) -> bytes:
    """A file's bytes; a Git LFS pointer's content when this clone has it."""
    try:
        data = treewalk.blob_data(repo.git, e)
    except KeyError as exc:
        raise BackendError(
            f"artifact file {e.path} is not in this clone", "fetch it: `git fetch`"
        ) from exc
    pointer = lfs.parse_pointer(data)
    if pointer is None:
        return data
    local = lfs.object_path(repo, pointer)
    if not local.is_file():
        raise BackendError(
            f"the Git LFS content of {e.path} is not in this clone",
            "`gitexp pull` it or `git lfs fetch` it from where it was pushed",
        )
    return local.read_bytes()
