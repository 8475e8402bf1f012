"""`gitexp apply`: write an experiment's files into the work tree.

It never touches the index or HEAD: the applied files show up as ordinary
uncommitted changes, and a submodule at another commit is checked out there,
detached, in the submodule's own repository. What it checks before writing
is in uncommitted.py, how it writes in worktree_writes.py, and the three-way
plan on an older baseline in threeway.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pygit2

from gitexp.common.errors import UsageError
from gitexp.common.layout import META_DIR, RUN_JSON
from gitexp.common.paths import is_under, under_any
from gitexp.exploring import readmodel as explore
from gitexp.exploring import threeway, uncommitted, worktree_writes
from gitexp.gitstore import stash, store, submodules, treewalk
from gitexp.gitstore.gitmodules import links
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.trees import blobs, read_json


@dataclass(frozen=True)
class Applied:
    name: str
    commit: str
    written: list[str]
    deleted: list[str]
    #: the baseline whose changes were applied; None when the whole tree was written
    baseline: str | None = None
    #: whether HEAD contains that baseline (False: history rewritten, another branch)
    baseline_in_head: bool = True
    #: the user's uncommitted work saved before ``--force`` overwrote it
    stashed: stash.Stashed | None = None


@dataclass(frozen=True)
class _Plan:
    files: dict[str, treewalk.Entry]  # what to write
    doomed: list[str]  # what to delete
    way: list[treewalk.Entry]  # what `check_way` looks at
    moves: list[submodules.Restore]
    baseline: str | None = None


def apply(repo: Repo, spec: str, force: bool = False, whole: bool = False) -> Applied:
    """Write an experiment's workspace (not .gitexp/) into the work tree.

    On HEAD's own baseline, or with ``whole``, the files where the experiment's
    tree differs from HEAD get its version; on an older (or other) baseline,
    only the experiment's changes since its baseline are written
    (exploring/threeway.py), so later commits are not undone. Uncommitted work
    in a file it writes or deletes is refused (uncommitted.py), or with
    ``force`` saved in a stash first: nothing of the user's is lost. Other
    uncommitted changes stay as they are. The experiment's tree is untrusted
    (it may come from a remote): it is validated as a whole first, and nothing
    is ever written through a symlink, one of the tree's or one in the work
    tree. A submodule with uncommitted changes is refused even with ``force``.
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
    subs = {link.path for link in links(repo.git, commit.tree)}
    risk = uncommitted.at_risk(repo, plan.files, plan.doomed, subs)
    if risk and not force:
        uncommitted.refuse(name, risk)
    with treewalk.SafeDir(repo.root) as out:
        worktree_writes.check_way(out, name, plan.way, set(plan.doomed))
        saved = _save(repo, name, risk) if risk else None
        deleted = [p for p in plan.doomed if worktree_writes.delete(out, p)]
        written = [e.path for e in plan.files.values() if worktree_writes.write(repo, out, e)]
    moved = submodules.restore(plan.moves)
    inside = base is None or repo.git.descendant_of(repo.head_commit().id, base.id)
    return Applied(run.name, run.commit, written + moved, deleted, plan.baseline, inside, saved)


def _save(repo: Repo, name: str, risk: uncommitted.AtRisk) -> stash.Stashed:
    """The work ``--force`` is about to overwrite, as a stash entry."""
    message = f"gitexp apply {name}: your uncommitted changes"
    return stash.save(repo, risk.tracked, risk.untracked, message)


def _whole(repo: Repo, commit: Any, found: list[treewalk.Entry], keep: set[str]) -> _Plan:
    """The experiment's whole tree against HEAD's: the files where they differ get
    the experiment's version, files HEAD has and it has not are deleted."""
    head = _files(repo, repo.head_commit().tree_id) if not repo.git.head_is_unborn else {}
    chosen = {
        e.path for e in found if e.mode != treewalk.TREE and head.get(e.path) != (e.oid, e.mode)
    }
    every = {e.path for e in found if e.mode != treewalk.TREE}
    doomed = [p for p in head if p not in every and not under_any(p, keep)]
    way, files = _way(found, chosen)
    return _Plan(files, doomed, way, submodules.plan_restore(repo, commit.tree))


def _way(
    found: list[treewalk.Entry], chosen: set[str]
) -> tuple[list[treewalk.Entry], dict[str, treewalk.Entry]]:
    """The entries to write and the folders above them (what must not be in the way)."""
    dirs = {p.rsplit("/", i)[0] for p in chosen for i in range(1, p.count("/") + 1)}
    way = [e for e in found if e.path in chosen or (e.mode == treewalk.TREE and e.path in dirs)]
    return way, {e.path: e for e in way if e.path in chosen}


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
    way, files = _way(found, set(todo.write))
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
