"""Reusable run directories: a run writes only the files that differ from the last one.

Writing a whole tree for every run costs seconds in a repository of 20,000
files (the kernel's file creation, not git), and more on every run. So run
directories are kept in a small pool per repository and reused: each *slot*
remembers the tree it holds and the stat of every file it wrote. Leasing a
slot for a run (an exclusive ``flock``, so concurrent runs never share one)
brings it to the run's tree by

1. one stat of every entry, against what the slot wrote: anything the last
   run changed, created or deleted (including a file rewritten in place) is
   put back or removed;
2. the git diff between the tree the slot held and the run's tree: only the
   files that differ are written.

Isolation is what a fresh copy gives: every run has a private directory of
exactly its tree; an in-place write by a script changes only its slot, and
the next run finds and repairs it. Hard links or symlinks to shared files
would not be isolation (a write in place would reach the original), and
overlayfs needs privileges most users lack; where the filesystem does
copy-on-write, this is still the simplest safe thing.

Slots live in the user's cache, ``~/.cache/gitexp/workdirs/<repo id>/``
(``$XDG_CACHE_HOME`` when set), or in ``<run_root>/gitexp-workdirs-<uid>-<repo
id>/`` when `run_root` or GITEXP_RUN_ROOT is set: created private (0700) and
checked to be ours. Never below the repository's ``.git``: a library that
looks for a repository above its working directory (DVCLive's dulwich does,
ignoring GIT_CEILING_DIRECTORIES) would find it there. When all ``SLOT_LIMIT`` slots
are busy, a run falls back to a fresh temporary directory. A slot whose
state cannot be trusted (a crash in the middle of a sync) is emptied and
written in full. `gitexp gc` removes idle slots (folder, memory and lease file).
"""

from __future__ import annotations

import fcntl
import hashlib
import marshal
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pygit2

from gitexp.common.paths import under_any
from gitexp.config.settings import Config
from gitexp.gitstore import changes as C
from gitexp.gitstore import contents, treewalk
from gitexp.gitstore.repo import MISSING_OBJECT, Repo
from gitexp.gitstore.trees import FileState, Manifest, materialize, report_missing
from gitexp.running.workspace import make_run_dir

SLOT_LIMIT = 16
STATE_VERSION = "gitexp-slot 3"


@dataclass
class Slot:
    """A leased run directory and what it holds."""

    path: Path
    state_path: Path
    lock_fd: int
    tree: str | None = None
    files: Manifest = field(default_factory=dict)
    #: files of the tree whose blobs this clone lacks (partial clone): tried, and
    #: reported, again on every run
    missing: list[str] = field(default_factory=list)

    @property
    def dirty_path(self) -> Path:
        return self.state_path.with_suffix(".dirty")

    def release(self, touched: tuple[list[str], list[str]] | None = None) -> None:
        """Give the slot back; its files stay for the next run to reuse. ``touched``
        (what the run changed, and the folders there are) spares the next run a
        stat of every file; without it the next run looks at everything."""
        if touched is not None:
            try:
                self.dirty_path.write_bytes(marshal.dumps(touched))
            except OSError:  # a full disk: the next run looks at every file instead
                self.dirty_path.unlink(missing_ok=True)
        if self.lock_fd >= 0:
            os.close(self.lock_fd)
            self.lock_fd = -1


def pool_dir(repo: Repo, run_root: str | None) -> Path:
    """This repository's pool (its worktrees share one: the common git dir's id)."""
    repo_id = hashlib.sha1(str(repo.state_dir).encode()).hexdigest()[:12]
    if run_root:
        return Path(run_root) / f"gitexp-workdirs-{os.getuid()}-{repo_id}"
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(cache) / "gitexp" / "workdirs" / repo_id


def lease(repo: Repo, run_root: str | None) -> Slot | None:
    """An idle slot of this repository, locked for this run; None when all are busy
    or the pool cannot be used (the caller then takes a fresh directory)."""
    root = pool_dir(repo, run_root)
    if not _private_dir(root):
        return None
    for n in range(SLOT_LIMIT):
        fd = _lock(root / f"slot-{n}.lease", create=True)
        if fd is None:
            continue
        slot = Slot(root / f"slot-{n}", root / f"slot-{n}.state", fd)
        _load(slot)
        return slot
    return None


def _lock(lease_file: Path, create: bool) -> int | None:
    """The slot's lease file, open and exclusively locked; None when a run holds it
    (or it is gone). Once locked it must still be the file at that path: `gitexp gc`
    removes an idle slot's lease file while holding its lock, and a lock on a file
    no longer there would guard nothing (two runs could share the slot)."""
    flags = os.O_RDWR | os.O_NOFOLLOW | (os.O_CREAT if create else 0)
    try:
        fd = os.open(lease_file, flags, 0o600)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.path.samestat(os.fstat(fd), os.lstat(lease_file)):
            return fd
    except (BlockingIOError, FileNotFoundError):
        pass
    os.close(fd)
    return None


def _private_dir(root: Path) -> bool:
    """``root`` exists as our own 0700 folder (never one planted by another user)."""
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = root.lstat()
    except OSError:
        return False
    return st.st_uid == os.getuid() and os.path.isdir(root) and not root.is_symlink()


def sync(repo: Repo, slot: Slot, tree: pygit2.Oid) -> Manifest:
    """Bring the slot to exactly ``tree``; returns its manifest for recording.

    A failure (a full disk) empties the slot: never a half-written run dir.
    """
    touched = _take_dirty(slot)
    _forget(slot)  # until this sync completes, the state on disk says "unknown"
    try:
        if _reusable(repo, slot):
            files = _update(repo, slot, tree, touched)
        else:
            files = _fill(repo, slot, tree)
        slot.files = contents.complete(repo, tree, slot.path, files)
    except BaseException:
        shutil.rmtree(slot.path, ignore_errors=True)
        slot.tree, slot.files = None, {}
        raise
    slot.tree = str(tree)
    _save(slot)
    return dict(slot.files)


def _reusable(repo: Repo, slot: Slot) -> bool:
    """The slot's folder is there and the tree it holds can still be read."""
    if slot.tree is None or not slot.path.is_dir():
        return False
    try:
        repo.git[slot.tree].peel(pygit2.Tree)
    except MISSING_OBJECT:
        return False
    return True


def _fill(repo: Repo, slot: Slot, tree: pygit2.Oid) -> Manifest:
    shutil.rmtree(slot.path, ignore_errors=True)
    files = materialize(repo, tree, slot.path)
    slot.missing = sorted(
        b.path
        for b in treewalk.entries(repo.git, tree)
        if b.mode != treewalk.TREE and b.path not in files
    )
    return files


def _update(
    repo: Repo, slot: Slot, tree: pygit2.Oid, touched: tuple[list[str], list[str]] | None
) -> Manifest:
    if touched is None:  # the last run did not say what it changed: look at everything
        found = C.scan(slot.path)
        stale, dirs = C.changes(slot.files, found), found.dirs
    else:
        stale, dirs = C.Changes(touched[0], []), touched[1]
    old = repo.git[str(slot.tree)].peel(pygit2.Tree)
    new = repo.git[tree].peel(pygit2.Tree)
    deltas = old.diff_to_tree(new).deltas  # C: only what differs, whatever the tree's size
    differ = {p for d in deltas for p in (d.old_file.path, d.new_file.path)}
    for rel in differ:  # from a tree: checked before anything is written
        treewalk.check_path(rel)
    redo = sorted(set(stale.changed) | set(stale.deleted) | differ | set(slot.missing))
    files = {rel: s for rel, s in slot.files.items() if rel not in differ}
    with treewalk.SafeDir(slot.path) as out:
        for rel in redo:
            if out.lstat(rel) is not None:
                _remove(slot.path, out, rel)
            files.pop(rel, None)
        foreign = contents.foreign(repo, new.id)  # submodule folders: contents.complete's
        _remove_empty_dirs(slot.path, [d for d in dirs if not under_any(d, foreign)], new)
        missing = []
        for rel in redo:
            try:
                written = _write(repo, out, new, rel)
            except MISSING_OBJECT:  # a partial clone: this blob was never fetched
                missing.append(rel)
                continue
            if written is not None:
                files[rel] = written
    report_missing(missing)
    slot.missing = missing
    return files


def _write(repo: Repo, out: treewalk.SafeDir, tree: pygit2.Tree, rel: str) -> FileState | None:
    try:
        entry = tree[rel]
    except KeyError:
        return None  # not in the run's tree: removing it was all
    if entry.filemode in (pygit2.enums.FileMode.TREE, pygit2.enums.FileMode.COMMIT):
        return None
    data = bytes(repo.git[entry.id].peel(pygit2.Blob).data)
    if entry.filemode == pygit2.enums.FileMode.LINK:
        out.symlink(rel, data.decode("utf-8", "surrogateescape"))
        st = out.lstat(rel)
    else:
        st = out.write_file(rel, data, int(entry.filemode))
    assert st is not None
    return FileState(entry.id, int(entry.filemode), st.st_size, st.st_mtime_ns)


def _remove(root: Path, out: treewalk.SafeDir, rel: str) -> None:
    st = out.lstat(rel)
    if st is not None and os.path.isdir(root / rel) and not (root / rel).is_symlink():
        shutil.rmtree(root / rel)
    else:
        out.unlink(rel)


def _remove_empty_dirs(root: Path, dirs: list[str], tree: pygit2.Tree) -> None:
    """Folders the last run made that the run's tree does not have (deepest first)."""
    for rel in sorted(dirs, key=lambda d: d.count("/"), reverse=True):
        try:
            in_tree = tree[rel].filemode == pygit2.enums.FileMode.TREE
        except KeyError:
            in_tree = False
        if not in_tree:
            shutil.rmtree(root / rel, ignore_errors=True)


# --- the slot's memory --------------------------------------------------------------


def _load(slot: Slot) -> None:
    """Read what the slot holds; anything unexpected means "unknown" (a full write).
    marshal: plain tuples, no code, and 20,000 entries load in milliseconds."""
    try:
        version, tree, rows, missing = marshal.loads(slot.state_path.read_bytes())
        files = {
            rel: FileState(pygit2.Oid(raw=oid), mode, size, mtime)
            for rel, oid, mode, size, mtime in rows
        }
    except (OSError, ValueError, TypeError, EOFError):
        return
    if version == STATE_VERSION and isinstance(tree, str):
        slot.tree, slot.files, slot.missing = tree, files, list(missing)


def _save(slot: Slot) -> None:
    rows = [(rel, s.oid.raw, s.mode, s.size, s.mtime_ns) for rel, s in slot.files.items()]
    tmp = slot.state_path.with_suffix(".tmp")
    tmp.write_bytes(marshal.dumps((STATE_VERSION, slot.tree, rows, slot.missing)))
    tmp.replace(slot.state_path)


def _forget(slot: Slot) -> None:
    for path in (slot.state_path, slot.dirty_path):
        path.unlink(missing_ok=True)


def _take_dirty(slot: Slot) -> tuple[list[str], list[str]] | None:
    """What the last run changed (files, and the folders there were), if it said so."""
    try:
        paths, dirs = marshal.loads(slot.dirty_path.read_bytes())
    except (OSError, ValueError, TypeError, EOFError):
        return None
    return list(paths), list(dirs)


@dataclass
class Tidied:
    """What `tidy` removed, or with ``dry_run`` would remove."""

    #: idle slots' folders: (path, bytes of their files)
    dirs: list[tuple[Path, int]] = field(default_factory=list)
    #: lease files (and memories) of slots whose folder was already gone
    stale_leases: int = 0


def tidy(repo: Repo, run_root: str | None, dry_run: bool = False) -> Tidied:
    """Remove every idle slot of this repository (`gitexp gc`): its folder, its
    memory and its lease file, so that a second call finds nothing. Busy ones stay."""
    root = pool_dir(repo, run_root)
    done = Tidied()
    for lease_file in sorted(root.glob("slot-*.lease")) if root.is_dir() else []:
        fd = _lock(lease_file, create=False)
        if fd is None:
            continue  # a run holds it
        try:
            _tidy_slot(lease_file.with_suffix(""), done, dry_run)
            if not dry_run:
                lease_file.unlink()  # while locked: see _lock
        finally:
            os.close(fd)
    return done


def _tidy_slot(slot: Path, done: Tidied, dry_run: bool) -> None:
    if slot.is_dir():
        done.dirs.append((slot, sum(e.st_size for e in C.scan(slot).files.values())))
    else:
        done.stale_leases += 1
    if dry_run:
        return
    shutil.rmtree(slot, ignore_errors=True)
    for suffix in (".state", ".dirty", ".tmp"):
        slot.with_suffix(suffix).unlink(missing_ok=True)


def clean(repo: Repo, run_root: str | None) -> list[tuple[Path, int]]:
    """`tidy`, and the (path, bytes) of the folders it removed."""
    return tidy(repo, run_root).dirs


@dataclass
class RunDir:
    """Where one run executes: a leased slot, or a fresh directory (``--keep-run-dir``,
    or every slot busy) that is deleted afterwards unless kept."""

    path: Path
    slot: Slot | None = None
    keep: bool = False

    def write(self, repo: Repo, tree: pygit2.Oid, dest: Path) -> Manifest:
        """``populate``'s writer: only what differs in a slot, everything otherwise;
        then what blobs do not hold (submodule files, LFS contents)."""
        if self.slot is None:
            return contents.checkout(repo, tree, dest)
        return sync(repo, self.slot, tree)

    touched: tuple[list[str], list[str]] | None = None  # set once recording has scanned

    def done(self) -> None:
        if self.slot is not None:
            self.slot.release(self.touched)
        elif not self.keep:
            shutil.rmtree(self.path, ignore_errors=True)


def open_run_dir(repo: Repo, config: Config, name: str, keep: bool) -> RunDir:
    """A slot of the pool, or a fresh directory when the run dir must be kept or the
    pool is full (GITEXP_RUN_ROOT and `run_root` place both)."""
    root = config.run_root or os.environ.get("GITEXP_RUN_ROOT") or None
    slot = None if keep else lease(repo, root)
    if slot is not None:
        return RunDir(slot.path, slot)
    return RunDir(make_run_dir(config, name), keep=keep)
