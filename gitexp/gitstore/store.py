"""The experiment store: refs under refs/experiments/, their commits and records.

A name is reserved by creating its ref (creation fails if it exists, so two
runs can never share one); the final commit replaces the reservation with a
compare-and-swap update. Ref writes go through libgit2's lock files, so a
killed process leaves each ref either valid or absent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pygit2

from gitexp.common import suggest
from gitexp.common.errors import ExperimentNameError, StoreError
from gitexp.common.layout import META_DIR, METRICS_JSON, RUN_JSON
from gitexp.gitstore import refscan
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.trees import read_json

REF_PREFIX = "refs/experiments/"
# what `git gc` beside a run causes: ref lock files held by pack-refs, and objects
# written moments ago pruned before a ref reached them (pygit2 raises all three)
TRANSIENT = (pygit2.GitError, OSError, KeyError)
GC_HINT = "is `git gc --prune=now` running beside it? plain `git gc` is safe (docs/sharing.md)"
ATTEMPTS = 5
T = TypeVar("T")


@dataclass(frozen=True)
class StoredExperiment:
    """An experiment as stored: name, commit id and its parsed record files."""

    name: str
    commit: str
    run: dict[str, Any]
    metrics: dict[str, Any]

    @property
    def ref(self) -> str:
        return REF_PREFIX + self.name


def backoff(attempt: int) -> float:
    return 0.05 * (attempt + 1)


def retry(step: Callable[[], T], what: str) -> T:
    """``step()``, retried while git is busy beside us; then one line, not a traceback."""
    for attempt in range(ATTEMPTS):
        try:
            return step()
        except TRANSIENT as exc:
            problem = exc
            time.sleep(backoff(attempt))
    raise StoreError(f"{what}: {' '.join(str(problem).split())}", GC_HINT) from problem


def ref_name(name: str) -> str:
    return REF_PREFIX + name


def exists(repo: Repo, name: str) -> bool:
    """One lookup (a loose file, else a bisection of packed-refs), whatever N is."""
    return lookup(repo, name) is not None


def lookup(repo: Repo, name: str) -> pygit2.Oid | None:
    """The commit refs/experiments/NAME points at; None when there is no such ref."""
    ref = repo.git.references.get(ref_name(name))
    target = ref.target if ref is not None else None
    return target if isinstance(target, pygit2.Oid) else None


_KINDS = {
    pygit2.enums.ObjectType.TAG: "an annotated tag",
    pygit2.enums.ObjectType.TREE: "a tree",
    pygit2.enums.ObjectType.BLOB: "a blob",
}


def not_a_commit(repo: Repo, target: str | pygit2.Oid) -> str | None:
    """What an experiment ref points at when it is no commit (``"an annotated tag"``,
    ``"a tree"``, ``"a blob"``); None for a commit, or an object not here at all
    (that is `broken`, said elsewhere). Only the object's header is read: a ref
    pushed by mistake (`git push origin v1.0:refs/experiments/rel`) or by a
    hostile remote may point at anything, of any size."""
    try:
        kind, _ = repo.git.odb.read_header(str(target))
    except (KeyError, ValueError, pygit2.GitError):
        return None
    return (
        _KINDS.get(kind, f"an object of type {kind}")
        if kind != pygit2.enums.ObjectType.COMMIT
        else None
    )


def not_commits(repo: Repo, refs: dict[str, str]) -> dict[str, str]:
    """{name: what it points at} of the refs in ``refs`` (name → sha) that are no commit."""
    found = {name: not_a_commit(repo, sha) for name, sha in refs.items()}
    return {name: kind for name, kind in found.items() if kind is not None}


def check_commit(repo: Repo, name: str, target: str | pygit2.Oid) -> None:
    """Refuse, in one line, an experiment ref that points at no commit."""
    kind = not_a_commit(repo, target)
    if kind is not None:
        raise StoreError(
            f"{ref_name(name)} points at {kind}, not a commit: it is no experiment",
            f"delete the ref with `gitexp remove {name}`",
        )


def is_group(repo: Repo, name: str) -> bool:
    """Some experiment's name is under ``NAME/``: only that folder is looked at."""
    return refscan.any_under(repo, ref_name(name.rstrip("/")) + "/")


def name_taken(name: str) -> ExperimentNameError:
    """The one line for a taken name: said by the look before a run and by the ref
    creation a concurrent run won (running/reserve.py), so every loser reads the same."""
    return ExperimentNameError(
        f"experiment name {name!r} is taken", "pick another -n/--name or remove it first"
    )


def check_free(repo: Repo, name: str) -> None:
    """Refuse a name that is taken, or would be both a leaf and a folder; a lookup
    per parent and one folder look, never a listing of every ref."""
    if exists(repo, name):
        raise name_taken(name)
    if is_group(repo, name):
        raise ExperimentNameError(f"experiment name {name!r} is a group of experiments")
    parts = name.split("/")
    for i in range(1, len(parts)):
        if exists(repo, "/".join(parts[:i])):
            raise ExperimentNameError(
                f"experiment name {name!r} is under {'/'.join(parts[:i])!r}, an experiment"
            )


def with_meta_file(repo: Repo, tree_id: pygit2.Oid, name: str, data: bytes) -> pygit2.Oid:
    """A copy of a tree with ``.gitexp/<name>`` set: two tree builders, whatever the
    tree's size (a heartbeat must not cost a walk of 20,000 files)."""
    root = repo.git[tree_id].peel(pygit2.Tree)
    entry = root[META_DIR] if META_DIR in root else None  # noqa: SIM401 (Tree has no .get)
    meta = repo.git.TreeBuilder(entry.id) if entry is not None else repo.git.TreeBuilder()
    meta.insert(name, repo.git.create_blob(data), pygit2.enums.FileMode.BLOB)
    builder = repo.git.TreeBuilder(root)
    builder.insert(META_DIR, meta.write(), pygit2.enums.FileMode.TREE)
    oid: pygit2.Oid = builder.write()
    return oid


def missing_objects(repo: Repo, commit: pygit2.Oid, known_tree: pygit2.Oid | None) -> list[str]:
    """Objects of ``commit`` that are not in the object store (a concurrent
    `git gc --prune=now` deletes what no ref reaches yet). Subtrees equal to
    the same path of ``known_tree`` (reachable before) are not walked."""
    odb = repo.git.odb
    if not odb.exists(commit):
        return [str(commit)]
    tree_id = repo.git[commit].peel(pygit2.Commit).tree_id
    return _missing_in_tree(repo, tree_id, known_tree, "")


def _missing_in_tree(
    repo: Repo, tree_id: pygit2.Oid, known: pygit2.Oid | None, prefix: str
) -> list[str]:
    odb = repo.git.odb
    if tree_id == known:
        return []
    if not odb.exists(tree_id):
        return [prefix or "/"]
    known_tree = repo.git[known] if known is not None and odb.exists(known) else None
    missing = []
    for entry in repo.git[tree_id].peel(pygit2.Tree):
        name = str(entry.name)
        before = _entry_id(known_tree, name)
        if entry.filemode == pygit2.enums.FileMode.TREE:
            missing += _missing_in_tree(repo, entry.id, before, prefix + name + "/")
        elif (
            entry.filemode != pygit2.enums.FileMode.COMMIT
            and entry.id != before
            and not odb.exists(entry.id)
        ):
            missing.append(prefix + name)
    return missing


def _entry_id(tree: object, name: str) -> pygit2.Oid | None:
    if not isinstance(tree, pygit2.Tree) or name not in tree:
        return None
    oid: pygit2.Oid = tree[name].id
    return oid


def write_commit(repo: Repo, tree: pygit2.Oid, parent: pygit2.Oid, message: str) -> pygit2.Oid:
    """A commit object only; no ref, no HEAD, no index change."""
    oid: pygit2.Oid = repo.git.create_commit(
        None, repo.signature(), repo.committer(), message, tree, [parent]
    )
    return oid


def reserve(repo: Repo, name: str, commit: pygit2.Oid) -> bool:
    """Create the ref; False when another process holds the name already."""
    for attempt in range(ATTEMPTS):
        try:
            repo.git.references.create(ref_name(name), commit, force=False)
            return True
        except (pygit2.AlreadyExistsError, ValueError):
            return False
        except (pygit2.GitError, OSError) as exc:
            if "exists" in str(exc) or exists(repo, name):
                return False
            problem = exc  # a lock held by another run or by `git gc`: look again
            time.sleep(backoff(attempt))
    raise StoreError(f"cannot create {ref_name(name)}: {problem}", GC_HINT) from problem


def finalize(
    repo: Repo, name: str, expected: pygit2.Oid, new: pygit2.Oid, why: str = "finish"
) -> None:
    """Move the ref from the reservation to the final commit, compare-and-swap.

    A lock held by `git gc` raises a ``TRANSIENT`` error; ``retry`` or the
    recorder's own loop tries again."""
    try:
        ref = repo.git.references[ref_name(name)]
    except KeyError as exc:
        raise StoreError(f"{ref_name(name)} vanished while the run was going on") from exc
    if ref.target != expected:
        raise StoreError(f"{ref_name(name)} was moved by someone else; final commit {new}")
    ref.set_target(new, f"gitexp: {why} {name}")  # a held lock raises: callers retry


def iter_refs(repo: Repo) -> Iterator[tuple[str, pygit2.Oid]]:
    """(name, commit id) of every experiment ref."""
    for name, commit in ref_targets(repo).items():
        yield name, pygit2.Oid(hex=commit)


def load(repo: Repo, name: str, commit: pygit2.Oid) -> StoredExperiment:
    """Read run.json and metrics.json of one experiment commit."""
    tree = repo.git[commit].peel(pygit2.Commit).tree_id
    return StoredExperiment(
        name, str(commit), read_json(repo, tree, RUN_JSON), read_json(repo, tree, METRICS_JSON)
    )


def list_experiments(repo: Repo) -> list[StoredExperiment]:
    return [load(repo, name, oid) for name, oid in iter_refs(repo)]


def resolve(repo: Repo, spec: str, any_object: bool = False) -> tuple[str, pygit2.Oid]:
    """Name, unique name prefix, full ref or commit id (prefix) → (name, commit).

    A name is one lookup; a prefix reads only the refs under it; only a spec
    that may be a commit id (hex, 4 characters or more) and names nothing
    reads every ref. A ref that points at no commit is refused in one line,
    unless ``any_object`` (`gitexp remove` deletes such a ref)."""
    name, oid = _resolve(repo, spec)
    if not any_object:
        check_commit(repo, name, oid)
    return name, oid


def _resolve(repo: Repo, spec: str) -> tuple[str, pygit2.Oid]:
    name = spec[len(REF_PREFIX) :] if spec.startswith(REF_PREFIX) else spec
    exact = lookup(repo, name) if name else None
    if exact is not None:
        return name, exact
    refs = under(repo, name)
    if len(spec) >= 4 and all(c in "0123456789abcdef" for c in spec.lower()):
        found = ref_targets(repo)
        refs.update({n: c for n, c in found.items() if c.startswith(spec.lower())})
    matches = sorted(refs)
    if len(matches) == 1:
        return matches[0], pygit2.Oid(hex=refs[matches[0]])
    if not matches:
        raise ExperimentNameError(f"no experiment named {spec!r}", "list them with `gitexp show`")
    shown = ", ".join(matches[:8]) + (", …" if len(matches) > 8 else "")
    raise ExperimentNameError(f"{spec!r} is ambiguous: {shown}")


def under(repo: Repo, prefix: str) -> dict[str, str]:
    """{name: commit hex} of the experiments whose names start with ``prefix``."""
    return refscan.under(repo, REF_PREFIX + prefix, strip=len(REF_PREFIX))


def ref_targets(repo: Repo) -> dict[str, str]:
    """{name: commit hex} of every experiment ref, read in one pass (no objects opened;
    gitstore/refscan.py reads git's ref files directly)."""
    return under(repo, "")


def remove_refs(repo: Repo, expected: dict[str, str]) -> None:
    """Delete experiment refs atomically, each only if it still points where expected."""
    try:
        with repo.git.transaction() as txn:
            for name in expected:
                txn.lock_ref(ref_name(name))
            for name, commit in expected.items():
                _check_target(repo, name, commit)
                txn.remove(ref_name(name))
    except (pygit2.GitError, KeyError, ValueError) as exc:
        raise StoreError(f"cannot remove experiment refs: {exc}") from exc


def undo_ref(repo: Repo, name: str, now: str, before: str | None) -> None:
    """Delete refs/experiments/NAME, or move it back to ``before``, if it still
    points at ``now`` (a pulled ref that turned out to be no commit)."""
    if before is None:
        remove_refs(repo, {name: now})
        return
    try:
        finalize(repo, name, pygit2.Oid(hex=now), pygit2.Oid(hex=before), "put back")
    except TRANSIENT as exc:
        raise StoreError(f"cannot put {ref_name(name)} back: {exc}") from exc


def _check_target(repo: Repo, name: str, commit: str) -> None:
    ref = repo.git.references.get(ref_name(name))
    if ref is None or str(ref.target) != commit:
        raise StoreError(f"{ref_name(name)} changed meanwhile; nothing was removed")


def rename_ref(repo: Repo, old: str, new: str) -> None:
    """Move refs/experiments/OLD to NEW (same commit; its reflog moves along)."""
    check_free(repo, new)
    try:
        repo.git.references[ref_name(old)].rename(ref_name(new))
    except (pygit2.GitError, KeyError, ValueError) as exc:
        raise StoreError(f"cannot rename {old!r} to {new!r}: {exc}") from exc


def create_branch(repo: Repo, branch: str, commit: str) -> str:
    """A real branch refs/heads/BRANCH at ``commit``; refuses to move an existing one."""
    full = "refs/heads/" + branch
    if not pygit2.reference_is_valid_name(full):
        raise ExperimentNameError(f"invalid branch name {branch!r}")
    if full in repo.git.references:
        raise ExperimentNameError(
            f"branch {branch!r} exists already", "pick another name or delete it first"
        )
    try:
        repo.git.references.create(full, pygit2.Oid(hex=commit), force=False)
    except (pygit2.GitError, ValueError) as exc:
        raise StoreError(f"cannot create branch {branch!r}: {exc}") from exc
    return full


def resolve_rev(repo: Repo, rev: str) -> str:
    """Any git revision (branch, tag, sha, HEAD~1) → commit hex."""
    try:
        return str(repo.git.revparse_single(rev).peel(pygit2.Commit).id)
    except (KeyError, ValueError, pygit2.GitError) as exc:
        raise ExperimentNameError(f"unknown revision {rev!r}", _rev_hint(repo, rev)) from exc


def _rev_hint(repo: Repo, rev: str) -> str:
    """A close branch name, else the branches there are (`main` in a `master` repository)."""
    branches = sorted(repo.git.branches.local)
    close = suggest.hint(rev, branches, "did you mean `{}`?")
    if close is not None or not branches:
        return close or "a branch, tag, commit id or HEAD"
    more = ", …" if len(branches) > 8 else ""
    return f"branches here: {', '.join(branches[:8])}{more}; or a tag, commit id or HEAD"
