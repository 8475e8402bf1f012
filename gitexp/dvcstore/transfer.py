"""Artifact objects between the local DVC cache and a DVC remote; setting DVC up.

DVC is imported only here and in cache.add, inside the functions that need
it. Object ids to fetch come from a possibly pulled run.json: each is checked
before it can name a file in the cache.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitexp.common.errors import BackendError
from gitexp.dvcstore import ingit
from gitexp.dvcstore.cache import (
    cache_dir,
    checked_md5,
    complete,
    dvc_ready,
    dvc_repo_class,
    folder_manifest,
    object_ids,
    open_dvc,
)

NO_REMOTE_HINT = (
    "add one with `dvc remote add -d storage <url>` and commit .dvc/config, "
    "or name one in gitexp.yaml as `artifacts: {remote: NAME}`"
)


@dataclass(frozen=True)
class Transfer:
    """Outcome of a push or fetch of artifact objects."""

    transferred: int
    failed: list[str]


def init_dvc(root: Path, remote_url: str | None = None, remote_name: str = "storage") -> bool:
    """`dvc init` when the repository has no DVC yet (True if it did), and a default remote."""
    created = False
    if not dvc_ready(root):
        with contextlib.redirect_stdout(io.StringIO()):  # DVC prints its own banner
            dvc_repo_class().init(str(root))
        created = True
    if remote_url:
        dvc = open_dvc(root)
        with dvc.config.edit() as conf:
            conf["remote"][remote_name] = {"url": remote_url}
            conf["core"]["remote"] = remote_name
    return created


def check_remote(root: Path, remote: str | None) -> str:
    """The DVC remote artifacts go to; a clear error when there is none."""
    from dvc.config import NoRemoteError
    from dvc.repo import Repo as DvcRepo

    dvc = open_dvc(root)
    assert isinstance(dvc, DvcRepo)
    try:
        name: str = dvc.cloud.get_remote(remote).name
    except NoRemoteError as exc:
        raise BackendError("no DVC remote is configured for the artifacts", NO_REMOTE_HINT) from exc
    except Exception as exc:
        raise BackendError(f"DVC remote {remote!r}: {exc}", NO_REMOTE_HINT) from exc
    return name


def push(root: Path, records: Iterable[dict[str, Any]], remote: str | None) -> Transfer:
    """Send the objects of these artifacts from the local DVC cache to the remote."""
    dvc = open_dvc(root)
    remote = check_remote(root, remote)
    ids: set[Any] = set()
    missing = []
    for record in records:
        obj = _load(dvc.cache.local, str(record["md5"]))
        if obj is None and record.get("pushed"):
            continue  # pushed to the remote from a Ray worker, never in this cache
        if obj is None:
            missing.append(str(record["path"]))
        else:
            ids |= object_ids(obj)
    result = dvc.cloud.push(ids, remote=remote) if ids else None
    failed = missing + [str(h.value) for h in (result.failed if result else ())]
    return Transfer(len(result.transferred) if result else 0, failed)


def fetch(root: Path, records: Iterable[dict[str, Any]], remote: str | None) -> Transfer:
    """Bring the objects of these artifacts from the DVC remote into the local cache
    (git-stored ones, `ingit`, are in their commit: nothing to fetch, DVC or not)."""
    records = [r for r in records if not ingit.in_git(r)]
    if not records:
        return Transfer(0, [])
    from dvc_data.hashfile.hash_info import HashInfo

    dvc = open_dvc(root)
    remote = check_remote(root, remote)
    # an id names a file in the cache: a pulled run.json must not pick where it goes
    wanted = {checked_md5(r.get("md5"), str(r.get("path"))) for r in records}
    tops = {HashInfo("md5", md5) for md5 in wanted}
    first = dvc.cloud.pull(tops, remote=remote)
    ids: set[Any] = set()
    for md5 in wanted:
        obj = _load(dvc.cache.local, md5) if md5.endswith(".dir") else None
        if obj is not None and folder_manifest(cache_dir(root), md5) is not None:
            ids |= object_ids(obj) - tops
    second = dvc.cloud.pull(ids, remote=remote) if ids else None
    failed = [str(h.value) for r in (first, second) if r for h in r.failed]
    failed += [m for m in wanted if not complete(cache_dir(root), m)]
    moved = len(first.transferred) + (len(second.transferred) if second else 0)
    return Transfer(moved, sorted(set(failed)))


def _load(odb: Any, md5: str) -> Any:
    from dvc_data.hashfile.hash_info import HashInfo
    from dvc_data.hashfile.tree import Tree

    info = HashInfo("md5", md5)
    if md5.endswith(".dir"):
        try:
            return Tree.load(odb, info)
        except (FileNotFoundError, ValueError):
            return None
    return odb.get(md5) if odb.exists(md5) else None
