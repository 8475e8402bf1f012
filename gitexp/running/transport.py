"""Results of a run that happened elsewhere: the run dir's changes, as one archive.

An executor that runs the job on another machine (Ray, a remote shell) has
the run dir's files there. It sends back what the run changed or created
(``pack``: a tar of the files that differ from what it received, the
library's live files under ``.gitexp/live/`` included) in
``ExecResult.returned``; the runner ``unpack``s it into the local run dir
before recording, so recording reads one local directory whatever ran the
job. Files the run deleted are listed in the archive's ``.gitexp-deleted``
member.

The archive comes from another machine: every member path is validated
like a tree from a remote (gitexp/gitstore/treewalk.py) and written through
directory handles that never follow a symlink; only regular files,
symlinks and folders are accepted. Large outputs still travel in the
archive; sending them by content address (DVC) is the executor's choice.
"""

from __future__ import annotations

import io
import stat
import tarfile
from pathlib import Path

from gitexp.common.errors import UsageError
from gitexp.gitstore.changes import scan
from gitexp.gitstore.treewalk import EXECUTABLE, SafeDir, check_path

DELETED = ".gitexp-deleted"
Snapshot = dict[str, tuple[int, int]]  # path -> (size, mtime_ns)


def snapshot(root: Path) -> Snapshot:
    """Size and mtime of every file under ``root`` (what the remote side received)."""
    return {rel: (st.st_size, st.st_mtime_ns) for rel, st in scan(root).files.items()}


def pack(root: Path, before: Snapshot) -> bytes:
    """A tar of the files under ``root`` that are new or changed since ``before``."""
    buf = io.BytesIO()
    now = snapshot(root)
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for rel in sorted(now):
            if before.get(rel) != now[rel]:
                tar.add(root / rel, arcname=rel, recursive=False)
        gone = "\n".join(sorted(set(before) - set(now))).encode()
        info = tarfile.TarInfo(DELETED)
        info.size = len(gone)
        tar.addfile(info, io.BytesIO(gone))
    return buf.getvalue()


def unpack(archive: bytes, root: Path) -> list[str]:
    """Apply a ``pack`` archive to ``root``; returns the paths written."""
    written: list[str] = []
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r") as tar, SafeDir(root) as out:
        members = tar.getmembers()
        for member in members:
            _check(member)
        for member in members:
            if member.name == DELETED:
                _delete(out, tar, member)
            elif _write(out, tar, member):
                written.append(member.name)
    return written


def _check(member: tarfile.TarInfo) -> None:
    check_path(member.name, "path in the returned archive")
    if not (member.isfile() or member.issym() or member.isdir()):
        raise UsageError(f"returned archive holds {member.name!r}, which is not a file")


def _write(out: SafeDir, tar: tarfile.TarFile, member: tarfile.TarInfo) -> bool:
    if member.isdir():
        out.make_dir(member.name)
        return False
    if out.lstat(member.name) is not None:
        out.unlink(member.name)
    if member.issym():
        out.symlink(member.name, member.linkname)
        return True
    data = tar.extractfile(member)
    mode = EXECUTABLE if member.mode & stat.S_IXUSR else 0
    out.write_file(member.name, data.read() if data else b"", mode)
    return True


def _delete(out: SafeDir, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
    data = tar.extractfile(member)
    for rel in (data.read().decode() if data else "").splitlines():
        check_path(rel, "deleted path in the returned archive")
        if out.lstat(rel) is not None:
            out.unlink(rel)
