"""Git submodules in experiments: the gitlink a run records and the files it runs with.

A submodule is another repository: the experiment's tree holds only its
*gitlink* (the commit `git add <submodule>` would record), and recording
never hashes what is below it (``foreign``). The run dir still needs the
files: they are written from the submodule's own object store
(gitexp/gitstore/gitmodules.py), never copied from the user's submodule work
tree, and nested submodules are followed the same way. Rules
(docs/repositories.md):

- snapshot (``fix_snapshot``): a checked-out submodule is recorded at its
  HEAD, and refused when its work tree has uncommitted changes; a folder that
  is gone is a removed submodule; one not checked out keeps HEAD's gitlink,
  with one warning;
- run dir (``complete``): each submodule's files at its gitlink, rewritten
  only when the gitlink moved or the last run changed something below it; a
  commit that is not in the repository stops the run, except for a submodule
  this process's snapshot found not checked out and absent, whose folder
  stays empty as it is in the work tree;
- apply (``plan_restore``, ``restore``): a detached checkout in the
  submodule, refused when it has uncommitted changes.
"""

from __future__ import annotations

import logging
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

import pygit2

from gitexp.common.errors import GitexpError, UsageError
from gitexp.gitstore import treewalk
from gitexp.gitstore.changes import scan, unchanged
from gitexp.gitstore.gitmodules import (
    GITMODULES,
    DirtySubmoduleError,
    Link,
    MissingSubmoduleError,
    checkout_of,
    declared,
    head_id,
    links,
    store,
)
from gitexp.gitstore.repo import MISSING_OBJECT, Repo
from gitexp.gitstore.trees import FileState, Manifest

log = logging.getLogger(__name__)

_COMMIT = pygit2.enums.FileMode.COMMIT
# (git dir, path, commit) of submodules this process's snapshot found not checked out
# and not in the repository: their run-dir folder stays empty instead of failing
_ABSENT: set[tuple[str, str, str]] = set()


def foreign(repo: Repo, tree: pygit2.Oid) -> tuple[str, ...]:
    """The submodule paths of ``tree``: recording hashes nothing below them."""
    return tuple(link.path for link in links(repo.git, repo.git[tree].peel(pygit2.Tree)))


# --- the snapshot: each submodule at the commit it has checked out --------------------


def fix_snapshot(repo: Repo, index: pygit2.Index) -> None:
    """Set each submodule's gitlink to what `git add <submodule>` would record.

    Refuses a checked-out submodule with uncommitted changes; a folder that is
    gone is a removed submodule; one not checked out keeps HEAD's gitlink (one
    warning).
    """
    paths = _declared_in(repo.git, index)
    if not repo.git.head_is_unborn:
        paths.update({k.path: k.name for k in links(repo.git, repo.head_commit().tree)})
    for path, name in sorted(paths.items()):
        work = repo.root / path
        sub = checkout_of(work)
        gitlink = index[path] if path in index and index[path].mode == _COMMIT else None
        if sub is not None:
            _refuse_dirty(sub, path)
            index.add(pygit2.IndexEntry(path, head_id(sub), _COMMIT))
            _check_nested(repo, sub, work, path + "/")
        elif gitlink is not None and not work.exists():
            index.remove(path)  # the user removed the submodule's folder
        elif gitlink is not None:
            _not_checked_out(repo, Link(name, path, gitlink.id))


def _declared_in(git: pygit2.Repository, index: pygit2.Index) -> dict[str, str]:
    """{path: name} from the .gitmodules the snapshot holds."""
    if GITMODULES not in index:
        return {}
    blob = git.get(index[GITMODULES].id)
    if not isinstance(blob, pygit2.Blob):
        return {}
    return {
        p: n
        for p, n in declared(bytes(blob.data).decode("utf-8", "replace")).items()
        if not treewalk.unsafe_path(p)
    }


def changes_in(sub: pygit2.Repository) -> list[str]:
    """What a submodule's work tree has that its HEAD does not: changed, staged or
    deleted files, untracked files its .gitignore does not exclude, and nested
    submodules moved or changed."""
    status: dict[str, int] = sub.status(untracked_files="all", ignored=False)
    return sorted(status)


def _refuse_dirty(sub: pygit2.Repository, path: str, doing: str = "run") -> None:
    found = changes_in(sub)
    if found:
        raise DirtySubmoduleError(path, found, doing)


def _check_nested(repo: Repo, sub: pygit2.Repository, work: Path, prefix: str) -> None:
    """Nested submodules of a clean checkout: report those not checked out."""
    for link in links(sub, sub.head.peel(pygit2.Commit).tree):
        nested = checkout_of(work / link.path)
        if nested is not None:
            _check_nested(repo, nested, work / link.path, prefix + link.path + "/")
        else:
            _not_checked_out(repo, link, prefix, Path(sub.path), work)


def _not_checked_out(
    repo: Repo, link: Link, prefix: str = "", git_dir: Path | None = None, work: Path | None = None
) -> None:
    """One warning; the run dir uses the objects if the repository has them."""
    path, short = prefix + link.path, str(link.commit)[:7]
    if store(git_dir or repo.git_dir, work or repo.root, link) is not None:
        log.warning(
            "gitexp: warning: submodule %r is not checked out; the run uses its commit %s",
            path,
            short,
        )
        return
    _ABSENT.add((str(repo.git_dir), path, str(link.commit)))
    log.warning(
        "gitexp: warning: submodule %r is not checked out and its commit %s is not in this "
        "repository: the experiment records that commit and its folder in the run "
        "directory is empty (hint: run `git submodule update --init --recursive`)",
        path,
        short,
    )


# --- the run dir: each submodule's files at its gitlink -------------------------------


@dataclass
class _Plan:
    """What one submodule's folder must hold: folders, and files with their store."""

    top: str
    dirs: list[str] = field(default_factory=list)
    files: list[tuple[treewalk.Entry, pygit2.Repository]] = field(default_factory=list)


def complete(repo: Repo, tree: pygit2.Oid, dest: Path, manifest: Manifest) -> Manifest:
    """Write each submodule's files under ``dest`` unless they are there already as
    the manifest says; the manifest gets their states (blob ids of the submodule's
    own repository), so recording sees them unchanged."""
    found = links(repo.git, repo.git[tree].peel(pygit2.Tree))
    if not found:
        return manifest
    tops = tuple(link.path + "/" for link in found)
    mine = {rel: s for rel, s in manifest.items() if rel.startswith(tops)}
    out = {rel: s for rel, s in manifest.items() if rel not in mine}
    for link in found:
        plan = _Plan(link.path)
        _gather(repo, repo.git_dir, repo.root, link, "", plan)
        kept = {rel: s for rel, s in mine.items() if rel.startswith(link.path + "/")}
        out.update(kept if _intact(dest, plan, kept) else _rewrite(dest, plan))
    return out


def _gather(
    repo: Repo, git_dir: Path, work: Path | None, link: Link, prefix: str, plan: _Plan
) -> None:
    """Add the files of ``link`` at its commit, and of its nested submodules, to the plan."""
    path = prefix + link.path
    treewalk.check_path(path)
    sub = store(git_dir, work, link)
    if sub is None:
        if (str(repo.git_dir), path, str(link.commit)) in _ABSENT:
            return  # the snapshot warned: the folder stays empty, as in the work tree
        raise MissingSubmoduleError(path, link.commit)
    tree = sub[link.commit].peel(pygit2.Tree)
    for entry in treewalk.entries(sub, tree.id):  # the whole tree checked first
        moved = treewalk.Entry(f"{path}/{entry.path}", entry.oid, entry.mode, entry.target)
        if entry.mode == treewalk.TREE:
            plan.dirs.append(moved.path)
        else:
            plan.files.append((moved, sub))
    inner = work / link.path if work is not None else None
    for nested in links(sub, tree):
        plan.dirs.append(f"{path}/{nested.path}")
        _gather(repo, Path(sub.path), inner, nested, path + "/", plan)


def _intact(dest: Path, plan: _Plan, kept: Manifest) -> bool:
    """The folder holds exactly the plan's files as they were written (one stat each)."""
    want = {e.path: (e.oid, e.mode) for e, _ in plan.files}
    if kept.keys() != want.keys() or any((s.oid, s.mode) != want[r] for r, s in kept.items()):
        return False
    with treewalk.SafeDir(dest) as out:
        st = out.lstat(plan.top)
    if st is None or not stat.S_ISDIR(st.st_mode):
        return False
    found = scan(dest / plan.top)
    files = {f"{plan.top}/{rel}": s for rel, s in found.files.items()}
    if files.keys() != want.keys() or not all(unchanged(kept[r], s) for r, s in files.items()):
        return False
    return {f"{plan.top}/{d}" for d in found.dirs} <= set(plan.dirs)


def _rewrite(dest: Path, plan: _Plan) -> Manifest:
    """Empty the submodule's folder and write the plan; the states written."""
    written: Manifest = {}
    with treewalk.SafeDir(dest) as out:
        st = out.lstat(plan.top)
        if st is not None and stat.S_ISDIR(st.st_mode):
            shutil.rmtree(dest / plan.top)
        elif st is not None:
            out.unlink(plan.top)
        out.make_dir(plan.top)
        for d in plan.dirs:
            out.make_dir(d)
        for entry, sub in plan.files:
            written[entry.path] = _write(out, entry, sub)
    return written


def _write(out: treewalk.SafeDir, entry: treewalk.Entry, sub: pygit2.Repository) -> FileState:
    if entry.mode == treewalk.LINK:
        out.symlink(entry.path, entry.target)
        st = out.lstat(entry.path)
        assert st is not None
    else:
        try:
            data = treewalk.blob_data(sub, entry)
        except MISSING_OBJECT as exc:  # a partial clone of the submodule
            raise GitexpError(
                f"submodule file {entry.path!r} is not in this repository (a partial clone?)",
                "run `git submodule update --init --recursive`, or fetch it in the submodule",
            ) from exc
        st = out.write_file(entry.path, data, entry.mode)
    return FileState(entry.oid, entry.mode, st.st_size, st.st_mtime_ns)


# --- apply: each submodule back at the experiment's commit ----------------------------


@dataclass(frozen=True)
class Restore:
    """A submodule checkout `apply` moves to a commit."""

    path: str
    sub: pygit2.Repository
    commit: pygit2.Oid


def plan_restore(repo: Repo, tree: pygit2.Tree) -> list[Restore]:
    """The checkouts that differ from the experiment's gitlinks, parents first.

    Refuses before anything is written: a submodule to move that has
    uncommitted changes, a commit that is not in the repository, or one not
    checked out whose gitlink in the index is not the experiment's (for an
    equal one, `git submodule update --init` gives exactly the experiment's).
    """
    todo: list[Restore] = []
    for link in links(repo.git, tree):
        entry = _index_entry(repo, link.path)
        wanted = entry is not None and entry.id == link.commit
        _plan(repo.root, link, "", wanted, todo)
    return todo


def _index_entry(repo: Repo, path: str) -> pygit2.IndexEntry | None:
    """The superproject's index entry at ``path`` (read, never written)."""
    try:
        entry: pygit2.IndexEntry = repo.git.index[path]
    except KeyError:
        return None
    return entry


def _plan(work: Path, link: Link, prefix: str, fine_absent: bool, todo: list[Restore]) -> None:
    path = prefix + link.path
    sub = checkout_of(work / link.path)
    if sub is None:
        if fine_absent:
            return
        raise UsageError(
            f"refusing to apply: submodule {path!r} is not checked out",
            f"run `git submodule update --init {path}` first",
        )
    target = sub.get(link.commit)
    if not isinstance(target, pygit2.Commit):
        raise MissingSubmoduleError(path, link.commit)
    if head_id(sub) != link.commit:
        _refuse_dirty(sub, path, "apply")
        todo.append(Restore(path, sub, link.commit))
    for nested in links(sub, target.tree):  # after the move, `update --init` gives these
        _plan(work / link.path, nested, path + "/", True, todo)


def restore(todo: list[Restore]) -> list[str]:
    """Check each submodule out at its commit, detached (its own index and files only)."""
    for item in todo:
        commit = item.sub[item.commit]
        safe = pygit2.enums.CheckoutStrategy.SAFE
        item.sub.checkout_tree(commit, strategy=safe)  # type: ignore[no-untyped-call]
        item.sub.set_head(item.commit)
    return [item.path for item in todo]
