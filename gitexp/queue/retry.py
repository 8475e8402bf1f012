"""`gitexp queue retry`: put a queued run that did not finish back in the queue.

A run taken from the queue records its entry's queued commit (run.json
``queue_entry``; a claimed one also under ``claimed.queued``). That commit
is the request exactly as `queue add` checked it (snapshot, overrides,
seed, flags, when it was queued), so retrying moves the ref back onto it:
the entry keeps its name and its place in the queue.

Only an `interrupted` or `failed` run is retried (a `running` one whose
gitexp was killed reads `interrupted`). The record it replaces is never
dropped silently: it is kept as ``refs/gitexp/retried/NAME/<commit>`` (and
named in the report), or, with ``new_name``, it stays where it is and the
entry is queued again under the new name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pygit2

from gitexp.common.errors import StoreError, UsageError
from gitexp.common.layout import RUN_JSON, RUN_JSON_NAME
from gitexp.gitstore import claims, names, store
from gitexp.gitstore.record import RunRecord, commit_message, observed_status
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.trees import read_json
from gitexp.queue.entries import ENTRY, QUEUED

KEPT_PREFIX = "refs/gitexp/retried/"
RETRIABLE = ("interrupted", "failed")


@dataclass(frozen=True)
class Retried:
    """``name`` is queued again on ``entry``; ``kept`` holds the record it replaced
    (None when it stays under its own name); ``remote``: where it had been claimed."""

    name: str
    was: str
    entry: str
    kept: str | None
    remote: str | None


def retry(repo: Repo, spec: str, new_name: str | None = None) -> Retried:
    """Queue the run ``spec`` names again (see the module doc)."""
    name, commit = store.resolve(repo, spec)
    run = store.load(repo, name, commit).run
    status = _status(run)
    if status not in RETRIABLE:
        raise UsageError(
            f"{name!r} is {status}: only an interrupted or failed run is queued again",
            "wait for it to end"
            if status == "running"
            else "queue a new run with `gitexp queue add`",
        )
    entry = _entry_commit(repo, name, run)
    remote = _claimed_on(run)
    if new_name is not None:
        return Retried(_requeue_as(repo, entry, new_name), status, str(entry.id), None, remote)
    kept = _keep(repo, name, str(commit))
    if not claims.take_over(repo, name, str(commit), entry.id):
        repo.git.references.delete(kept)
        raise StoreError(f"{name!r} changed while it was being queued again", "try again")
    return Retried(name, status, str(entry.id), kept, remote)


def _status(run: dict[str, Any]) -> str:
    status = str(run.get("status"))
    return observed_status(status, run.get("host"), run.get("pid"), run.get("lease_until"))


def _entry_commit(repo: Repo, name: str, run: dict[str, Any]) -> pygit2.Commit:
    """The queued commit the run came from, still in this repository."""
    claimed = run.get("claimed")
    oid = run.get(ENTRY) or (claimed.get("queued") if isinstance(claimed, dict) else None)
    if not isinstance(oid, str) or not oid:
        raise UsageError(
            f"{name!r} was not run from the queue (or by a gitexp that did not record its entry)",
            f"queue it anew: gitexp queue add --from {name} -- COMMAND",
        )
    try:
        entry = repo.git[oid].peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError) as exc:
        raise StoreError(
            f"the queued entry of {name!r} ({oid[:12]}) is no longer in this repository",
            f"queue it anew: gitexp queue add --from {name} -- COMMAND",
        ) from exc
    if read_json(repo, entry.tree_id, RUN_JSON).get("status") != QUEUED:
        raise StoreError(f"commit {oid[:12]} recorded for {name!r} is not a queued entry")
    return entry


def _claimed_on(run: dict[str, Any]) -> str | None:
    claimed = run.get("claimed")
    remote = claimed.get("remote") if isinstance(claimed, dict) else None
    return remote if isinstance(remote, str) else None


def _keep(repo: Repo, name: str, commit: str) -> str:
    """refs/gitexp/retried/NAME/<commit>: the replaced record, out of the way."""
    ref = f"{KEPT_PREFIX}{name}/{commit[:12]}"
    repo.git.references.create(ref, pygit2.Oid(hex=commit), force=True)
    return ref


def _requeue_as(repo: Repo, entry: pygit2.Commit, new_name: str) -> str:
    """The entry again as NEW: its tree, its run.json under the new name."""
    names.validate(new_name)
    store.check_free(repo, new_name)
    run = read_json(repo, entry.tree_id, RUN_JSON)
    record = RunRecord.from_dict({**run, "name": new_name})
    tree = store.with_meta_file(repo, entry.tree_id, RUN_JSON_NAME, record.to_json())
    commit = store.write_commit(repo, tree, entry.parent_ids[0], commit_message(record, {}))
    if not store.reserve(repo, new_name, commit):
        raise StoreError(f"experiment name {new_name!r} is taken")
    return new_name
