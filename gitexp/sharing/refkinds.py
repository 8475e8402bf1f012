"""Experiment refs that point at no commit: never pushed, never pulled.

git lets a ref point at any object: `git push origin v1.0:refs/experiments/rel`
puts an annotated tag there by accident, and a hostile remote may advertise a
tree or a blob. The readers list such a ref as ``broken``
(exploring/summary_cache.py) and `gitexp remove NAME` deletes it; push and pull
leave it where it is:

- push: a ref here that points at no commit is left out (one object header
  read per ref); pushing every experiment, it becomes a negative refspec
  (``^refs/experiments/NAME``) beside the one glob;
- pull: an annotated tag is known before anything moves, from the peeled line
  (``REF^{}``) `git ls-remote` prints for it, and is not fetched; a tree or a
  blob shows only once fetched, and the ref is then deleted again (or put back
  on the commit a ``--force`` pull moved it from). The objects stay unreachable
  until `git gc` prunes them.

A tag on a valid experiment commit is not peeled to it: the ref is refused
like any other non-commit, so that every reader, the summary cache (keyed by
the id a ref holds) and a remote all see the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable

from gitexp.gitstore import store
from gitexp.gitstore.repo import Repo

PEELED = "^{}"
TAG = "an annotated tag"


def peeled(pairs: Iterable[tuple[str, str]]) -> set[str]:
    """Refs (full names) `git ls-remote` printed a peeled line for: annotated tags."""
    return {ref.removesuffix(PEELED) for _, ref in pairs if ref.endswith(PEELED)}


def split(repo: Repo, refs: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(the refs of ``refs``, name → sha, that are commits, {full ref: what the
    others point at})."""
    bad = store.not_commits(repo, refs)
    kept = {name: sha for name, sha in refs.items() if name not in bad}
    return kept, {store.ref_name(name): kind for name, kind in bad.items()}


def undo_fetched(repo: Repo, fetched: Iterable[str], before: dict[str, str]) -> dict[str, str]:
    """{full ref: what it points at} of the ``fetched`` experiments that are no
    commit; each ref is deleted, or put back where it was here (``before``)."""
    found = {}
    for name in fetched:
        oid = store.lookup(repo, name)  # what the fetch wrote, whatever ls-remote said
        kind = store.not_a_commit(repo, oid) if oid is not None else None
        if oid is not None and kind is not None:
            store.undo_ref(repo, name, str(oid), before.get(name))
            found[store.ref_name(name)] = kind
    return found
