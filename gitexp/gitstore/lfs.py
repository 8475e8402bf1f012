"""Git LFS: trees hold small pointers; the contents live in the LFS store.

A file that .gitattributes gives ``filter=lfs`` is stored in git as a
pointer (``version …/oid sha256:<hex>/size <n>``, about 130 bytes); git's
clean filter (`git-lfs clean`) writes it and puts the content under
``<lfs dir>/objects/<aa>/<bb>/<oid>``; the smudge filter turns it back.
gitexp writes trees with libgit2, which runs no filter, so here:

- ``entry_for``: the snapshot and recording store an LFS-tracked file as
  `git add` does, through `git-lfs clean` (its pointer is the blob, the
  content lands in the LFS store);
- ``complete``: each pointer written into a run dir is replaced by its
  content, copied from the LFS store (no process) or fetched with
  `git-lfs smudge`. The manifest keeps the pointer's blob id with the size
  and mtime of the real file, so recording and a reused run dir see it
  unchanged and it is not copied again.

In a repository without LFS attributes neither starts a process: ``entry_for``
reads the .gitattributes of the changed files' folders once each, and
``complete`` looks for .gitattributes among the manifest's paths. The
attribute files are the snapshot's or the run dir's own (gitstore/attributes.py).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pygit2

from gitexp.common.errors import BackendError
from gitexp.gitstore import gitenv, treewalk
from gitexp.gitstore.attributes import FILE, Attributes
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.trees import FileState, Manifest

EntryFn = Callable[[pygit2.Repository, Path, str], pygit2.IndexEntry]

SPEC = b"version https://git-lfs.github.com/spec/v1\n"
MAX_POINTER = 1024  # the LFS spec: a pointer file is smaller than this
MARK = b"filter=lfs"
INSTALL_HINT = "install git-lfs (apt-get install git-lfs, brew install git-lfs) and try again"


class Pointer(NamedTuple):
    oid: str
    size: int


class LfsMissingError(BackendError):
    """LFS is in use here but the git-lfs program is not."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is tracked by Git LFS but git-lfs is not installed", INSTALL_HINT)


def parse_pointer(data: bytes) -> Pointer | None:
    """The object a pointer file names; None for anything that is not a pointer."""
    if not data.startswith(SPEC) or len(data) >= MAX_POINTER:
        return None
    fields = dict(line.partition(b" ")[::2] for line in data[len(SPEC) :].splitlines())
    oid, size = fields.get(b"oid", b""), fields.get(b"size", b"")
    if not oid.startswith(b"sha256:") or len(oid) != 71 or not size.isdigit():
        return None
    return Pointer(oid[7:].decode("ascii"), int(size))


def program(what: str) -> str:
    """The git-lfs executable, or one line saying that ``what`` needs it."""
    found = shutil.which("git-lfs")
    if found is None:
        raise LfsMissingError(what)
    return found


def common_dir(repo: Repo) -> Path:
    """The git dir all worktrees share (the LFS store and info/attributes are there)."""
    linked = repo.git_dir / "commondir"
    if linked.is_file():
        return (repo.git_dir / linked.read_text().strip()).resolve()
    return repo.git_dir


def store_dir(repo: Repo) -> Path:
    """Where git-lfs keeps contents: ``lfs.storage``, else ``lfs/`` in the common git dir."""
    try:
        configured = str(repo.git.config["lfs.storage"])
    except KeyError:
        configured = "lfs"
    return common_dir(repo) / configured


def object_path(repo: Repo, pointer: Pointer) -> Path:
    oid = pointer.oid
    return store_dir(repo) / "objects" / oid[:2] / oid[2:4] / oid


def info_attributes(repo: Repo) -> bytes | None:
    try:
        return (common_dir(repo) / "info" / "attributes").read_bytes()
    except OSError:
        return None


# --- snapshot and recording: a file becomes its pointer ------------------------------


def entry_for(repo: Repo, plain: EntryFn) -> EntryFn:
    """``plain``, except that a file whose attributes say ``filter=lfs`` becomes its
    LFS pointer (the attributes of the folder it was found in: the work tree or a
    run dir)."""
    by_root: dict[Path, Attributes] = {}

    def entry(git: pygit2.Repository, full: Path, path: str) -> pygit2.IndexEntry:
        root = full.parents[path.count("/")]
        attrs = by_root.get(root)
        if attrs is None:
            attrs = by_root[root] = disk_attributes(repo, root)
        if attrs.value(path) != "lfs" or full.is_symlink() or not full.is_file():
            return plain(git, full, path)
        return clean_entry(repo, git, full, path)

    return entry


def disk_attributes(repo: Repo, root: Path) -> Attributes:
    def read(folder: str) -> bytes | None:
        try:
            return (root / folder / FILE).read_bytes()
        except OSError:  # absent, or not a file
            return None

    return Attributes("filter", read, info_attributes(repo), "lfs")


def clean_entry(repo: Repo, git: pygit2.Repository, full: Path, path: str) -> pygit2.IndexEntry:
    """The index entry `git add` makes for an LFS file: `git-lfs clean`'s pointer."""
    exe = program(path)
    with open(full, "rb") as content:
        proc = subprocess.run(
            [exe, "clean", "--", path],
            stdin=content,
            capture_output=True,
            cwd=repo.root,
            env=gitenv.for_git(),  # this repository, whatever a hook set
        )
    if proc.returncode != 0 or parse_pointer(proc.stdout) is None:
        raise BackendError(f"git-lfs clean failed for {path}: {detail(proc.stderr)}")
    executable = full.stat().st_mode & 0o111
    mode = pygit2.enums.FileMode.BLOB_EXECUTABLE if executable else pygit2.enums.FileMode.BLOB
    return pygit2.IndexEntry(path, git.create_blob(proc.stdout), mode)


# --- run dirs: pointers become contents ----------------------------------------------


def complete(repo: Repo, dest: Path, manifest: Manifest) -> Manifest:
    """Replace every LFS pointer written under ``dest`` by its content; the manifest
    gets the written files' stat (blob ids unchanged)."""
    attrs = tree_attributes(repo, manifest)
    if attrs is None:
        return manifest
    todo = [(rel, st) for rel, st in manifest.items() if _pointer_left(repo, attrs, dest, rel, st)]
    exe = program(todo[0][0] if todo else _first_tracked(attrs, manifest))
    with treewalk.SafeDir(dest) as out:
        for rel, st in todo:
            out.copy_in(rel, content(repo, exe, rel, _blob(repo, st.oid)))
            new = out.lstat(rel)
            assert new is not None
            manifest[rel] = FileState(st.oid, st.mode, new.st_size, new.st_mtime_ns)
    return manifest


def tree_attributes(repo: Repo, manifest: Manifest) -> Attributes | None:
    """The ``filter`` attribute of a written tree's paths, or None when no attribute
    file in it (or in ``info/attributes``) mentions ``filter=lfs``."""
    found = {
        rel[: -len(FILE)].rstrip("/"): st.oid
        for rel, st in manifest.items()
        if rel.endswith(FILE) and (rel == FILE or rel.endswith("/" + FILE))
    }
    texts = {folder: _blob(repo, oid) for folder, oid in found.items()}
    info = info_attributes(repo)
    if not any(MARK in text for text in (*texts.values(), info or b"")):
        return None
    return Attributes("filter", texts.get, info, "lfs")


def _pointer_left(repo: Repo, attrs: Attributes, dest: Path, rel: str, st: FileState) -> bool:
    """``rel`` is an LFS file whose pointer is on disk (not yet its content)."""
    if st.size >= MAX_POINTER or st.mode == treewalk.LINK or attrs.value(rel) != "lfs":
        return False
    data = _blob(repo, st.oid)
    pointer = parse_pointer(data)
    if pointer is None or st.size != len(data):
        return False  # not a pointer (a small file git stores whole), or already content
    if pointer.size == len(data):  # content exactly as long as its pointer: look
        return (dest / rel).read_bytes() == data
    return True


def _blob(repo: Repo, oid: pygit2.Oid) -> bytes:
    return bytes(repo.git[oid].peel(pygit2.Blob).data)


def _first_tracked(attrs: Attributes, manifest: Manifest) -> str:
    tracked = next((rel for rel in manifest if attrs.value(rel) == "lfs"), None)
    return tracked or f"this repository ({FILE}: {MARK.decode()})"


def content(repo: Repo, exe: str, rel: str, data: bytes) -> Path:
    """The LFS store's copy of a pointer's content, fetched first when it is not there."""
    pointer = parse_pointer(data)
    assert pointer is not None
    path = object_path(repo, pointer)
    if _complete_file(path, pointer):
        return path
    proc = subprocess.run(
        [exe, "smudge", "--", rel],
        input=data,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=repo.root,
        env={k: v for k, v in gitenv.for_git().items() if k != "GIT_LFS_SKIP_SMUDGE"},
    )
    if not _complete_file(path, pointer):  # smudge exits 0 and prints the pointer on failure
        raise BackendError(
            f"the Git LFS content of {rel} ({pointer.oid[:12]}) is not here and could not be "
            f"fetched: {detail(proc.stderr)}",
            "`gitexp pull` or `git lfs fetch` it from where it was pushed (check lfs.url)",
        )
    return path


def _complete_file(path: Path, pointer: Pointer) -> bool:
    try:
        return path.stat().st_size == pointer.size
    except OSError:
        return False


def detail(stderr: bytes) -> str:
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()]
    return (errors or lines or ["no output"])[-1]
