"""DVC's cache of a repository: where it is, what it holds, and `.dvc` pointers.

The commit of an experiment holds ``<path>.dvc`` pointers (DVC's own format,
so ``dvc pull`` in a checkout works too); the bytes live in the cache under
``files/md5/ab/cdef…``, a folder as a ``.dir`` manifest of its files. Pointers
gitexp writes carry ``meta: {gitexp: artifact}`` so they are never mistaken
for inputs (``dvc add`` pointers the user committed). Object ids and paths
may come from a pulled tree: an id names a file in the cache, so only hex
(and ``.dir``) is accepted. DVC itself is imported only to add objects.
"""

from __future__ import annotations

import configparser
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from gitexp.common.errors import BackendError
from gitexp.gitstore.treewalk import UnsafeTreeError, unsafe_path

MARK = "artifact"
_MD5 = re.compile(r"^[0-9a-f]{32}(\.dir)?$")
NO_DVC_HINT = "run `gitexp init --dvc` (or `dvc init`) and commit .dvc/"


def dvc_ready(root: Path) -> bool:
    """True when the repository has DVC set up (a `.dvc/` folder)."""
    return (root / ".dvc").is_dir()


def dvc_repo_class() -> Any:
    """DVC's Repo class, imported now; a one-line error when DVC is not installed."""
    try:
        from dvc.repo import Repo as DvcRepo
    except ImportError as exc:
        raise BackendError("DVC is not installed", "pip install 'gitexp[dvc]'") from exc
    return DvcRepo


def open_dvc(root: Path) -> Any:
    """DVC's Repo object; a one-line error when DVC is missing or not set up."""
    if not dvc_ready(root):
        raise BackendError(f"DVC is not set up in {root}", NO_DVC_HINT)
    return dvc_repo_class()(str(root))


def cache_dir(root: Path) -> Path:
    """DVC's cache folder of a repository, as `.dvc/config(.local)` sets it."""
    dvc_dir = root / ".dvc"
    parser = configparser.ConfigParser()
    parser.read([dvc_dir / "config", dvc_dir / "config.local"], encoding="utf-8")
    configured = parser.get("cache", "dir", fallback=None)
    return Path(os.path.normpath(dvc_dir / configured)) if configured else dvc_dir / "cache"


def cache_path(cache: Path, md5: str) -> Path:
    return cache / "files" / "md5" / md5[:2] / md5[2:]


def add(
    root: Path, run_dir: Path, chosen: dict[str, str], mark: str = MARK
) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    """Move ``{path: reason}`` of the run dir into the cache: (run.json records, pointers).
    ``mark``: what gitexp's pointers say they are (``input``: linked into runs)."""
    odb = open_dvc(root).cache.local
    records, pointers = [], {}
    for rel, why in sorted(chosen.items()):
        record, _ = store(odb, run_dir, rel, why)
        records.append(record)
        pointers[rel + ".dvc"] = pointer(record, mark)
    return records, pointers


def store(odb: Any, run_dir: Path, rel: str, why: str) -> tuple[dict[str, Any], set[Any]]:
    """Hash one output of the run dir (a file or a folder) into ``odb``: its
    run.json record and the objects it is made of (what a push must send)."""
    from dvc_data.hashfile.build import build
    from dvc_data.hashfile.transfer import transfer

    staging, meta, obj = build(odb, str(run_dir / rel), odb.fs, "md5")
    ids = object_ids(obj)
    transfer(staging, odb, ids, shallow=False, hardlink=False)
    record = {"path": rel, "md5": obj.hash_info.value, "size": meta.size, "reason": why}
    if meta.nfiles is not None:
        record["nfiles"] = meta.nfiles
    return record, ids


def object_ids(obj: Any) -> set[Any]:
    """The hash infos of an object: itself, and a folder's files."""
    from dvc_data.hashfile.tree import Tree

    ids = {obj.hash_info}
    if isinstance(obj, Tree):
        ids |= {oid for _, _, oid in obj}
    return ids


def pointer(record: dict[str, Any], mark: str = MARK) -> bytes:
    """A DVC 3 `.dvc` file for one artifact (``path`` relative to the pointer's folder)."""
    out: dict[str, Any] = {"md5": record["md5"], "size": record["size"]}
    if "nfiles" in record:
        out["nfiles"] = record["nfiles"]
    out.update({"hash": "md5", "path": record["path"].rsplit("/", 1)[-1]})
    data = {"meta": {"gitexp": mark}, "outs": [out]}
    return yaml.safe_dump(data, sort_keys=False).encode()


def input_outs(path: Path) -> list[dict[str, Any]]:
    """The outputs a user's `dvc add` pointer names (gitexp's own pointers: none)."""
    try:
        data = yaml.safe_load(path.read_bytes())
    except (OSError, ValueError, yaml.YAMLError):
        return []
    if not isinstance(data, dict) or (data.get("meta") or {}) == {"gitexp": MARK}:
        return []
    outs = data.get("outs") or []
    return [o for o in outs if isinstance(o, dict) and o.get("md5") and o.get("path")]


def checked_md5(value: Any, path: str) -> str:
    """An object id names a file in the cache: only hex (and `.dir`) may."""
    md5 = str(value)
    if not _MD5.match(md5):
        raise UnsafeTreeError(path, what="checksum for")
    return md5


def folder_manifest(cache: Path, md5: str) -> list[tuple[str, str]] | None:
    """(relpath, md5) of a DVC folder manifest (`.dir`); None when absent or malformed."""
    try:
        data = json.loads(cache_path(cache, md5).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        return None
    entries = [(e.get("relpath"), e.get("md5")) for e in data]
    ok = all(isinstance(r, str) and isinstance(m, str) and _MD5.match(m) for r, m in entries)
    return [(str(r), str(m)) for r, m in entries] if ok else None


def cached_files(cache: Path, md5: str, target: str, what: str) -> list[tuple[str, Path]] | None:
    """(path, cache file) of an object's files, paths checked; None when the cache lacks it."""
    source = cache_path(cache, md5)
    if not md5.endswith(".dir"):
        return [(target, source)] if source.exists() else None
    entries = folder_manifest(cache, md5)
    if entries is None:
        return None
    files = []
    for relpath, file_md5 in entries:
        path = f"{target}/{relpath}"
        if unsafe_path(relpath):
            raise UnsafeTreeError(path, what=what)
        files.append((path, cache_path(cache, file_md5)))
    return files if all(f.exists() for _, f in files) else None


def complete(cache: Path, md5: str) -> bool:
    """The object, and every file of a folder, is in the cache."""
    if not md5.endswith(".dir"):
        return cache_path(cache, md5).exists()
    entries = folder_manifest(cache, md5)
    return entries is not None and all(cache_path(cache, m).exists() for _, m in entries)


def missing(root: Path, records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records whose objects the local DVC cache lacks."""
    cache = cache_dir(root)
    return [r for r in records if not complete(cache, str(r["md5"]))]
