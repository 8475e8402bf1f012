"""Taking over an experiment ref that exists: a compare-and-swap under git's ref lock.

A queued run (gitexp/queue/) already has its ref; the run that executes it
moves the ref from the queued commit to its `running` reservation. Two
queue runners may reach for the same entry: the ref is locked (as git
itself locks it), its target compared and set inside one transaction, so
exactly one of them wins.
"""

from __future__ import annotations

import time

import pygit2

from gitexp.common.errors import StoreError
from gitexp.gitstore import store
from gitexp.gitstore.repo import Repo


def take_over(repo: Repo, name: str, expected: str, new: pygit2.Oid) -> bool:
    """Point refs/experiments/NAME at ``new`` if it points at ``expected``; False if not."""
    ref = store.ref_name(name)
    for attempt in range(store.ATTEMPTS):
        try:
            with repo.git.transaction() as txn:
                txn.lock_ref(ref)
                current = repo.git.references.get(ref)
                if current is None or str(current.target) != expected:
                    return False
                txn.set_target(ref, new, message=f"gitexp: run queued {name}")
            return True
        except pygit2.GitError as exc:  # the lock is held (another runner, `git gc`)
            problem = exc
            time.sleep(store.backoff(attempt))
    raise StoreError(f"cannot take over {ref}: {problem}", store.GC_HINT) from problem
