"""Housekeeping on experiments: remove, rename, apply to the work tree, branch.

Only `apply` writes into the user's work tree, and it never touches the
index or HEAD: the applied files show up as ordinary uncommitted changes, and
a submodule at another commit is checked out there, detached, in the
submodule's own repository.
"""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pygit2

from gitexp.common.errors import UsageError
from gitexp.common.layout import META_DIR, RUN_JSON
from gitexp.common.paths import is_under, under_any
from gitexp.exploring import envimages, threeway
from gitexp.exploring import readmodel as explore
from gitexp.gitstore import lfs, names, store, submodules, treewalk
from gitexp.gitstore.gitmodules import links
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.trees import blobs, read_json

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
    used = envimages.referenced(repo, set(chosen.values()))
    if used:  # their images become `gitexp gc --images`'s to remove
        envimages.remember(repo, used)
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
    #: the baseline whose changes were applied; None when the whole tree was written
    baseline: str | None = None


@dataclass(frozen=True)
class _Plan:
    files: dict[str, treewalk.Entry]  # what to write
    doomed: list[str]  # what to delete
    way: list[treewalk.Entry]  # what `_check_way` looks at
    moves: list[submodules.Restore]
    baseline: str | None = None


def apply(repo: Repo, spec: str, force: bool = False, whole: bool = False) -> Applied:
    """Write an experiment's workspace (not .gitexp/) into the work tree.

    On HEAD's own baseline, or with ``whole``, the work tree becomes the
    experiment's tree; on an older (or other) baseline, only the experiment's
    changes since its baseline are written (exploring/threeway.py), so later
    commits are not undone. Refuses, unless ``force``, when tracked files have
    uncommitted changes or an untracked file would be overwritten: nothing of
    the user's is lost that git could not give back. The experiment's tree is
    untrusted (it may come from a remote): it is validated as a whole first,
    and nothing is ever written through a symlink, one of the tree's or one in
    the work tree. A submodule with uncommitted changes is refused even with
    ``force``.
    """
    name, oid = store.resolve(repo, spec)
    commit: Any = repo.git[oid]
    found = _entries(repo, name, commit.tree_id)
    keep = set(_links(repo, commit))
    base = None if whole else _older_baseline(repo, name, commit)
    if base is None:
        plan = _whole(repo, commit, found, keep)
    else:
        plan = _changes(repo, name, (commit, base), found, keep, force)
    run = explore.get_summaries(repo, [name])[0]
    if not force:
        _check_clean(repo, plan.files, {link.path for link in links(repo.git, commit.tree)})
    with treewalk.SafeDir(repo.root) as out:
        _check_way(out, name, plan.way, set(plan.doomed))
        deleted = [p for p in plan.doomed if _delete(out, p)]
        written = [e.path for e in plan.files.values() if _write(repo, out, e)]
    moved = submodules.restore(plan.moves)
    return Applied(run.name, run.commit, written + moved, deleted, plan.baseline)


def _whole(repo: Repo, commit: Any, found: list[treewalk.Entry], keep: set[str]) -> _Plan:
    """The experiment's whole tree: files HEAD has and it has not are deleted."""
    files = {e.path: e for e in found if e.mode != treewalk.TREE}
    head_files = _files(repo, repo.head_commit().tree_id) if not repo.git.head_is_unborn else {}
    doomed = [p for p in head_files if p not in files and not under_any(p, keep)]
    return _Plan(files, doomed, found, submodules.plan_restore(repo, commit.tree))


def _older_baseline(repo: Repo, name: str, commit: Any) -> Any:
    """The experiment's baseline commit when it is not HEAD; None when it is (or
    HEAD is unborn, or the experiment has none)."""
    if repo.git.head_is_unborn or not commit.parent_ids:
        return None
    base_id = commit.parent_ids[0]
    if base_id == repo.head_commit().id:
        return None
    base = repo.git.get(base_id)
    if not isinstance(base, pygit2.Commit):
        raise UsageError(
            f"cannot apply {name!r}: its baseline {str(base_id)[:7]} is not in this repository",
            "fetch it, or pass --whole to write the experiment's whole tree",
        )
    return base


def _changes(
    repo: Repo,
    name: str,
    commits: tuple[Any, pygit2.Commit],
    found: list[treewalk.Entry],
    keep: set[str],
    force: bool,
) -> _Plan:
    """The experiment's changes since its baseline, onto the work tree (threeway.py)."""
    commit, base = commits
    exp = {e.path: (e.oid, e.mode) for e in found if e.mode != treewalk.TREE}
    head = _files(repo, repo.head_commit().tree_id)
    todo = threeway.changes(_files(repo, base.tree_id), exp, head, {*keep, META_DIR})
    if not force:
        threeway.refuse(name, str(base.id), todo.conflicts)
    chosen = set(todo.write)
    dirs = {p.rsplit("/", i)[0] for p in chosen for i in range(1, p.count("/") + 1)}
    way = [e for e in found if e.path in chosen or (e.mode == treewalk.TREE and e.path in dirs)]
    files = {e.path: e for e in way if e.path in chosen}
    before = {link.path: link.commit for link in links(repo.git, base.tree)}
    moved = {s.path for s in links(repo.git, commit.tree) if before.get(s.path) != s.commit}
    moves = [m for m in submodules.plan_restore(repo, commit.tree) if under_any(m.path, moved)]
    return _Plan(files, todo.delete, way, moves, str(base.id))


def _entries(repo: Repo, name: str, tree_id: pygit2.Oid) -> list[treewalk.Entry]:
    """The experiment's tree, validated as a whole, without its .gitexp/ record."""
    try:
        found = treewalk.entries(repo.git, tree_id)
    except treewalk.UnsafeTreeError as exc:
        raise exc.naming(name) from None
    return [e for e in found if not is_under(e.path, META_DIR)]


def _files(repo: Repo, tree_id: pygit2.Oid) -> dict[str, tuple[pygit2.Oid, int]]:
    """{path: (blob id, mode)} of every file of a (trusted) tree, submodules left out."""
    return {path: (oid, mode) for path, oid, mode in blobs(repo, tree_id) if path != META_DIR}


def _links(repo: Repo, commit: Any) -> list[str]:
    """Paths the run linked in (DVC data, shared inputs): apply leaves them alone."""
    links = read_json(repo, commit.tree, RUN_JSON, lost_ok=True).get("links", [])
    return [str(p) for p in links] if isinstance(links, list) else []


def _check_clean(repo: Repo, files: dict[str, treewalk.Entry], subs: set[str]) -> None:
    """Refuse uncommitted changes (submodules: `submodules.plan_restore` checks them)."""
    dirty, clobbered = [], []
    for path, flags in repo.git.status(untracked_files="all", ignored=False).items():
        if path in subs:
            continue
        if flags & _TRACKED_CHANGES:
            dirty.append(path)
        elif (
            flags & pygit2.enums.FileStatus.WT_NEW
            and path in files
            and pygit2.hashfile(str(repo.root / path)) != files[path].oid
        ):
            clobbered.append(path)
    dirty = _really_changed(repo, dirty)
    if dirty or clobbered:
        what = "uncommitted changes" if dirty else "untracked files it would overwrite"
        shown = sorted(dirty or clobbered)
        listed = ", ".join(shown[:5]) + (", …" if len(shown) > 5 else "")
        raise UsageError(
            f"refusing to apply: {what} ({listed})", "commit or stash them first, or use --force"
        )


def _really_changed(repo: Repo, paths: list[str]) -> list[str]:
    """Of the files libgit2 calls modified, those git itself does too: libgit2 runs
    no external filter, so a Git LFS file it had to re-read always looks modified."""
    if not paths:
        return paths
    import subprocess

    proc = subprocess.run(
        ["git", "status", "--porcelain", "-z", "--untracked-files=no", "--", *paths],
        cwd=repo.root,
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        return paths
    listed = {e[3:] for e in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if e}
    return [p for p in paths if p in listed]


def _check_way(
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


def _write(repo: Repo, out: treewalk.SafeDir, entry: treewalk.Entry) -> bool:
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


def _delete(out: treewalk.SafeDir, rel: str) -> bool:
    """Remove a file HEAD has and the experiment has not (never below a symlink)."""
    st = out.lstat(rel)
    if st is None or stat.S_ISDIR(st.st_mode):
        return False
    out.unlink(rel)
    return True
