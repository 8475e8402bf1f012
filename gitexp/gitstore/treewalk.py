"""The one validated walker for every git tree written to disk, and writes that never
follow a symbolic link.

`git fetch` does not check objects, so a tree from a remote may hold names git
itself would never check out: ``..``, ``.git`` (in any case, with trailing dots
or spaces, as NTFS ``git~1`` or with HFS-ignored characters), names with a
slash, a backslash or a control character, duplicate names (a symlink ``out``
and a folder ``out/``: the only way a tree can put a symlink above another
entry). `entries` checks the WHOLE tree with the rules of git's
``verify_path`` (backslashes and control characters refused everywhere, as
git does on Windows) before the caller writes anything, so a refusal writes
nothing. `SafeDir` then writes below one
root through directory file descriptors opened with O_NOFOLLOW: a symlink the
same operation placed, or one already there, is never followed for a write.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import pygit2

from gitexp.common.errors import UsageError

TREE = int(pygit2.enums.FileMode.TREE)
LINK = int(pygit2.enums.FileMode.LINK)
EXECUTABLE = int(pygit2.enums.FileMode.BLOB_EXECUTABLE)
_COMMIT = int(pygit2.enums.FileMode.COMMIT)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# code points HFS+ ignores in names, so ".g\u200cit" is ".git" there (git's utf8.c)
_HFS_IGNORED = dict.fromkeys(
    [0x200C, 0x200D, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x206A, 0x2070), 0xFEFF]
)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class UnsafeTreeError(UsageError):
    """A tree or record names a path that cannot be written safely; nothing was written.

    Raised without the experiment's name where the caller does not know it
    (the runner's materialize); callers that know it use `naming`.
    """

    def __init__(self, path: str, experiment: str | None = None, what: str = "path") -> None:
        owner = f"experiment {experiment!r}" if experiment else "the tree"
        super().__init__(f"{owner} holds an unsafe {what} {path!r} (refused; nothing was written)")
        self.path = path
        self.experiment = experiment
        self.what = what

    def naming(self, experiment: str) -> UnsafeTreeError:
        """The same refusal, naming the experiment."""
        return UnsafeTreeError(self.path, self.experiment or experiment, self.what)


class LinkInTheWayError(UsageError):
    """A write met a symlink (or a file) where a folder must be: stopped, never followed."""

    def __init__(self, path: str, below: bool = True) -> None:
        what = f"below {path!r}: it is a symbolic link or not a folder"
        if not below:
            what = f"{path!r}: a symbolic link or a folder is in the way"
        super().__init__(f"refusing to write {what}", f"move {path!r} out of the way first")
        self.path = path


def unsafe_name(name: str) -> bool:
    """True when ``name`` may not be one component of a path gitexp writes."""
    if name in ("", ".", "..") or "/" in name or "\\" in name or _CONTROL.search(name):
        return True
    return is_dot_git(name)


def why_unsafe(path: str) -> str | None:
    """Why a work-tree path may not be written, as a clause; None when it may."""
    for name in path.split("/"):
        if _CONTROL.search(name):
            return "its name holds a control character"
        if "\\" in name:
            return "its name holds a backslash"
        if is_dot_git(name):
            return f"{name!r} reads as .git on some file systems"
        if unsafe_name(name):
            return f"{name!r} is not a file name"
    return None


def is_dot_git(name: str) -> bool:
    """``.git`` as NTFS or HFS+ would read it: any case, trailing dots and spaces, an
    alternate data stream (``.git::$INDEX_ALLOCATION``), the short name ``git~1``."""
    folded = name.translate(_HFS_IGNORED).lower()
    for stem in (".git", "git~1"):
        if folded.startswith(stem):
            tail = folded[len(stem) :].lstrip(". ")
            if not tail or tail.startswith(":"):
                return True
    return False


def unsafe_path(path: str) -> bool:
    """True when a relative posix path from an untrusted record may not be written."""
    return not path or path.startswith("/") or any(unsafe_name(p) for p in path.split("/"))


def check_path(path: str, what: str = "path") -> str:
    """Return ``path`` if it stays inside its destination, else raise `UnsafeTreeError`."""
    if unsafe_path(path):
        raise UnsafeTreeError(path, what=what)
    return path


@dataclass(frozen=True)
class Entry:
    """One thing to write: a directory (TREE), a file (BLOB/EXECUTABLE) or a symlink (LINK)."""

    path: str
    oid: pygit2.Oid
    mode: int
    target: str = ""  # a symlink's target


def entries(git: pygit2.Repository, tree_id: pygit2.Oid) -> list[Entry]:
    """Every directory, file and symlink of the tree, depth first (submodules left out).

    The whole tree is checked before this returns: any unsafe name raises
    `UnsafeTreeError` and the caller has written nothing.
    """
    found: list[Entry] = []
    stack: list[Iterator[tuple[str, pygit2.Object]]] = [_children(git, tree_id, "")]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
            continue
        path, obj = item
        mode = int(obj.filemode)
        if mode == _COMMIT:
            continue  # submodules are not materialized
        if mode == TREE:
            found.append(Entry(path, obj.id, TREE))
            stack.append(_children(git, obj.id, path + "/"))
        else:
            found.append(_file(git, path, obj, mode))
    return found


def check(git: pygit2.Repository, tree_id: pygit2.Oid, experiment: str | None = None) -> None:
    """Validate a whole tree before a caller hands it on to be written later (reproduce:
    before the rerun's ref exists), naming the experiment in a refusal."""
    try:
        entries(git, tree_id)
    except UnsafeTreeError as exc:
        raise exc.naming(experiment) if experiment else exc from None


def _children(
    git: pygit2.Repository, tree_id: pygit2.Oid, prefix: str
) -> Iterator[tuple[str, pygit2.Object]]:
    """The entries of one tree with their paths, checked before the first is yielded."""
    tree = git.get(tree_id)
    if not isinstance(tree, pygit2.Tree):
        raise UnsafeTreeError(prefix.rstrip("/"))
    seen: set[str] = set()
    for obj in tree:
        name = str(obj.name)
        if name in seen or unsafe_name(name):
            raise UnsafeTreeError(prefix + name)
        seen.add(name)
    return ((prefix + str(obj.name), obj) for obj in tree)


def _file(git: pygit2.Repository, path: str, obj: pygit2.Object, mode: int) -> Entry:
    if mode != LINK:
        return Entry(path, obj.id, mode)
    blob = git.get(obj.id)
    target = os.fsdecode(bytes(blob.data)) if isinstance(blob, pygit2.Blob) else ""
    if not target or "\0" in target:
        raise UnsafeTreeError(path)
    return Entry(path, obj.id, mode, target)


def blob_data(git: pygit2.Repository, entry: Entry) -> bytes:
    """The bytes of a file entry; a mode that lies about its object is refused."""
    blob = git.get(entry.oid)
    if blob is None:  # not in this clone (a partial clone): the caller decides
        raise KeyError(f"{entry.path}: object {entry.oid} is missing")
    if not isinstance(blob, pygit2.Blob):
        raise UsageError(f"the tree is malformed: {entry.path!r} is not a file (stopped)")
    return bytes(blob.data)


class SafeDir:
    """Writes below ``root`` through O_NOFOLLOW directory descriptors.

    ``root`` itself is the caller's (a run dir, the work tree) and may be
    reached through a symlink; nothing below it ever is. Only the descriptors
    of the current directory's ancestors stay open, so a depth-first walk
    holds as many as the tree is deep.
    """

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self._fds: dict[str, int] = {"": os.open(root, os.O_RDONLY | os.O_DIRECTORY)}

    def __enter__(self) -> SafeDir:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def make_dir(self, rel: str) -> None:
        self._dir_fd(rel)

    def write_file(self, rel: str, data: bytes, mode: int) -> os.stat_result:
        """Create or truncate one file (never through a symlink); its stat after writing."""
        fd = self._create(rel, mode)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            return os.fstat(fd)
        finally:
            os.close(fd)

    def copy_in(self, rel: str, source: Path) -> None:
        """Copy a file in, streaming (artifacts may be large)."""
        with open(source, "rb") as src, open(self._create(rel, 0), "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)

    def _create(self, rel: str, mode: int) -> int:
        parent, name = _split(rel)
        dir_fd = self._dir_fd(parent)
        try:
            fd = os.open(name, _FILE_FLAGS, 0o666, dir_fd=dir_fd)
        except OSError as exc:
            raise _in_the_way(exc, rel, below=False) from exc
        if mode == EXECUTABLE:
            os.fchmod(fd, 0o755)
        return fd

    def blocked(self, rel: str) -> str | None:
        """The first folder above ``rel`` that exists but is a symlink or a file, if any."""
        parts = rel.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            above = "/".join(parts[:i])
            st = self.lstat(above)
            if st is None:
                return None
            if not stat.S_ISDIR(st.st_mode):
                return above
        return None

    def lstat(self, rel: str) -> os.stat_result | None:
        """What is at ``rel``, not following it; None when nothing is there, or when a
        folder above it is missing or is not a real directory."""
        parent, name = _split(rel)
        try:
            return os.stat(name, dir_fd=self._dir_fd(parent, create=False), follow_symlinks=False)
        except (OSError, LinkInTheWayError):
            return None

    def readlink(self, rel: str) -> str:
        parent, name = _split(rel)
        return os.readlink(name, dir_fd=self._dir_fd(parent, create=False))

    def chmod(self, rel: str, mode: int) -> None:
        """Change a regular file's mode (`lstat` said it is one)."""
        parent, name = _split(rel)
        os.chmod(name, mode, dir_fd=self._dir_fd(parent, create=False))

    def symlink(self, rel: str, target: str) -> None:
        parent, name = _split(rel)
        os.symlink(target, name, dir_fd=self._dir_fd(parent))

    def unlink(self, rel: str) -> None:
        parent, name = _split(rel)
        os.unlink(name, dir_fd=self._dir_fd(parent, create=False))

    def _dir_fd(self, rel: str, create: bool = True) -> int:
        """A descriptor of directory ``rel``, made and opened one component at a time."""
        fd = self._fds.get(rel)
        if fd is not None:
            return fd
        self._close_outside(rel)
        done = max(self._fds, key=len)  # the deepest open directory above rel
        fd = self._fds[done]
        for name in rel[len(done) :].lstrip("/").split("/"):
            done = f"{done}/{name}" if done else name
            fd = self._fds[done] = _open_dir(fd, name, done, create)
        return fd

    def _close_outside(self, rel: str) -> None:
        """Close descriptors of directories that are not ``rel`` or above it."""
        for key in [k for k in self._fds if k and not (rel + "/").startswith(k + "/")]:
            os.close(self._fds.pop(key))


def _open_dir(parent_fd: int, name: str, rel: str, create: bool) -> int:
    if create:
        try:
            os.mkdir(name, dir_fd=parent_fd)
        except FileExistsError:
            pass
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except OSError as exc:
        raise _in_the_way(exc, rel) from exc


def _split(rel: str) -> tuple[str, str]:
    parent, _, name = rel.rpartition("/")
    return parent, name


def _in_the_way(exc: OSError, rel: str, below: bool = True) -> Exception:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EISDIR):
        return LinkInTheWayError(rel, below)
    return exc
