"""Reserving an experiment's name: its ref on a `running` commit, checked intact.

A name is reserved by creating its ref (creation fails when it exists, so
two runs never share one). The reservation's objects are checked after the
ref exists: a `git gc --prune=now` beside us can delete a snapshot's new
blobs before the ref reaches them, and then the snapshot is taken again.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

import pygit2

from gitexp.common.errors import ExperimentNameError, StoreError
from gitexp.common.layout import RUN_JSON_NAME
from gitexp.gitstore import claims, names, store
from gitexp.gitstore.record import commit_message
from gitexp.gitstore.repo import Repo
from gitexp.running.heartbeat import lease_until
from gitexp.running.recording import WRITE_ATTEMPTS

if TYPE_CHECKING:
    from gitexp.config.settings import Config
    from gitexp.running.executors import Executor
    from gitexp.running.runner import Prepared, RunRequest

log = logging.getLogger(__name__)
NAME_ATTEMPTS = 20


def reserve(
    repo: Repo, prepared: Prepared, auto: bool, claim: str | None = None
) -> tuple[str, pygit2.Oid]:
    """Create the ref on a `running` commit; auto names retry on collision. A
    ``claim`` (a queued entry's commit) moves the existing ref from it instead."""
    if claim is not None:
        return prepared.record.name, _take_over(repo, prepared, claim)
    for _ in range(NAME_ATTEMPTS if auto else 1):
        name = names.generate() if auto else prepared.record.name
        commit = store.retry(partial(_reservation, repo, prepared, name), "cannot reserve")
        if store.reserve(repo, name, commit):
            return name, commit
    if auto:
        raise StoreError(f"could not find a free experiment name in {NAME_ATTEMPTS} tries")
    raise store.name_taken(prepared.record.name)  # a run started with ours won the name


def _take_over(repo: Repo, prepared: Prepared, claim: str) -> pygit2.Oid:
    """A queued run starts: its ref moves from the queued commit, or someone was first."""
    name = prepared.record.name
    commit = store.retry(partial(_reservation, repo, prepared, name), "cannot reserve")
    if not claims.take_over(repo, name, claim, commit):
        raise ExperimentNameError(
            f"queued run {name!r} is no longer queued (another queue runner took it, "
            "or it was removed)"
        )
    return commit


def _reservation(repo: Repo, prepared: Prepared, name: str) -> pygit2.Oid:
    """The `running` commit: the snapshot plus a run.json with a fresh lease."""
    record = prepared.record.replace(
        name=name, extra={**prepared.record.extra, "lease_until": lease_until()}
    )
    tree = store.with_meta_file(repo, prepared.tree, RUN_JSON_NAME, record.to_json())
    return store.write_commit(repo, tree, prepared.baseline, commit_message(record, {}))


def intact(
    repo: Repo,
    config: Config,
    request: RunRequest,
    executor: Executor,
    prepared: Prepared,
    name: str,
    reserved: pygit2.Oid,
) -> tuple[Prepared, pygit2.Oid]:
    """Check that the reservation's objects exist: a `git gc --prune=now` beside us can
    delete the snapshot's new blobs before the ref reaches them. Snapshot again if so."""
    from gitexp.running.runner import prepare  # the runner imports this module

    known = repo.git[prepared.baseline].peel(pygit2.Commit).tree_id
    try:
        for _ in range(WRITE_ATTEMPTS):
            if not store.missing_objects(repo, reserved, known):
                return prepared, reserved
            request = replace(request, name=name)
            prepared = prepare(repo, config, request, executor, check_name=False)
            commit = store.retry(partial(_reservation, repo, prepared, name), "cannot reserve")
            store.retry(partial(store.finalize, repo, name, reserved, commit), "cannot reserve")
            reserved = commit
    except BaseException:
        _unreserve(repo, name, reserved)
        raise
    _unreserve(repo, name, reserved)
    raise StoreError(
        f"could not reserve experiment {name!r}: git objects vanished while snapshotting",
        store.GC_HINT,
    )


def _unreserve(repo: Repo, name: str, reserved: pygit2.Oid) -> None:
    try:
        store.remove_refs(repo, {name: str(reserved)})
    except Exception:  # it moved or went: nothing of ours to remove
        log.debug("could not remove the reservation of %s", name, exc_info=True)
