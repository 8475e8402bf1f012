"""Checking what was written against the checksum the registry recorded.

A DVC object is an md5 of the file's bytes; a DVC folder (``….dir``) is the
md5 of its manifest, which lists each file's md5. A git file is its blob id
(SHA-1 of ``blob <size>\\0<bytes>``; SHA-256 in a SHA-256 repository).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from gitexp.common.errors import BackendError
from gitexp.dvcstore.cache import cache_dir, cache_path, folder_manifest

CHUNK = 1 << 20


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def blob_id_of(path: Path, like: str) -> str:
    """The git blob id of a file's bytes, in the hash ``like`` (an id) uses."""
    digest = hashlib.sha1() if len(like) == 40 else hashlib.sha256()
    digest.update(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_dvc(root: Path, written: Path, md5: str, label: str) -> None:
    """The file (or folder, file by file) matches the DVC object ``md5``."""
    if not md5.endswith(".dir"):
        _same(md5_of(written), md5, label)
        return
    manifest = cache_path(cache_dir(root), md5)
    entries = folder_manifest(cache_dir(root), md5)
    if entries is None:
        raise BackendError(f"{label}: the folder's manifest {md5} is not in the DVC cache")
    _same(md5_of(manifest), md5.removesuffix(".dir"), f"{label} (manifest)")
    for relpath, file_md5 in entries:
        _same(md5_of(written / relpath), file_md5, f"{label}/{relpath}")


def verify_blob(written: Path, blob: str, label: str) -> None:
    _same(blob_id_of(written, blob), blob, label)


def _same(found: str, expected: str, label: str) -> None:
    if found != expected:
        raise BackendError(
            f"checksum mismatch for {label}: expected {expected}, got {found}",
            "nothing was left at the destination; the cache or remote holds a damaged copy",
        )
