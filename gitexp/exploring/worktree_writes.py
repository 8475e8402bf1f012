"""How `gitexp apply` writes into the work tree: never through a symlink, only what differs."""

from __future__ import annotations

import hashlib
import stat

import pygit2

from gitexp.common.errors import UsageError
from gitexp.gitstore import lfs, treewalk
from gitexp.gitstore.repo import Repo


def check_way(
    out: treewalk.SafeDir, name: str, found: list[treewalk.Entry], doomed: set[str]
) -> None:
    """Refuse, before any write, what is in the way in the work tree: a symlink or a
    file where the experiment has a folder (never written through, even with --force,
    unless it is a tracked file apply removes), a folder where it has a file."""
    for entry in found:
        st = out.lstat(entry.path)
        if st is None or entry.path in doomed:
            continue
        if entry.mode == treewalk.TREE and not stat.S_ISDIR(st.st_mode):
            kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "a file"
            raise UsageError(
                f"refusing to apply {name!r}: {entry.path!r} is {kind} in the work tree "
                "and the experiment has a folder there (nothing was written)",
                f"move {entry.path!r} out of the way first",
            )
        if entry.mode != treewalk.TREE and stat.S_ISDIR(st.st_mode):
            raise UsageError(
                f"refusing to apply {name!r}: {entry.path!r} is a folder in the work tree "
                "and the experiment has a file there (nothing was written)",
                f"move {entry.path!r} out of the way first",
            )


def write(repo: Repo, out: treewalk.SafeDir, entry: treewalk.Entry) -> bool:
    """Write one file or symlink if it differs from what is there; True when written."""
    st = out.lstat(entry.path)
    if entry.mode == treewalk.LINK:
        if st and stat.S_ISLNK(st.st_mode) and out.readlink(entry.path) == entry.target:
            return False
        if st:
            out.unlink(entry.path)
        out.symlink(entry.path, entry.target)
        return True
    data = treewalk.blob_data(repo.git, entry)
    pointer = lfs.parse_pointer(data)
    if st and stat.S_ISREG(st.st_mode) and _same_content(repo, entry, pointer):
        return _set_mode(out, entry, st.st_mode)
    if st:
        out.unlink(entry.path)
    if pointer is None:
        out.write_file(entry.path, data, entry.mode)
        return True
    # a Git LFS pointer: the work tree gets the content, as a checkout would
    out.copy_in(entry.path, lfs.content(repo, lfs.program(entry.path), entry.path, data))
    written = out.lstat(entry.path)
    if written is not None:
        _set_mode(out, entry, written.st_mode)
    return True


def _same_content(repo: Repo, entry: treewalk.Entry, pointer: lfs.Pointer | None) -> bool:
    """The work-tree file already holds the entry (for an LFS pointer: its content)."""
    path = repo.root / entry.path
    if pointer is None:
        return bool(pygit2.hashfile(str(path)) == entry.oid)
    if path.stat().st_size != pointer.size:
        return False
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest() == pointer.oid


def _set_mode(out: treewalk.SafeDir, entry: treewalk.Entry, current: int) -> bool:
    executable = entry.mode == treewalk.EXECUTABLE
    wanted = current | 0o111 if executable else current & ~0o111
    if wanted != current:
        out.chmod(entry.path, stat.S_IMODE(wanted))
        return True
    return False


def delete(out: treewalk.SafeDir, rel: str) -> bool:
    """Remove a file HEAD has and the experiment has not (never below a symlink)."""
    st = out.lstat(rel)
    if st is None or stat.S_ISDIR(st.st_mode):
        return False
    out.unlink(rel)
    return True
