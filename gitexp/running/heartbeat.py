"""A running experiment's heartbeat: its ref is refreshed while the run lives.

The reservation commit says `running`; if the process or its machine dies,
nothing ever rewrites it. So the runner renews a lease: every ``interval``
seconds it commits the same tree with ``lease_until`` moved forward in
run.json and moves the ref there (compare-and-swap). A reader on any host,
after `git fetch`, treats a `running` record whose lease has expired as
`interrupted` (``record.observed_status``). The lease is ``LEASE_FACTOR``
intervals long, so a few missed beats or a clock a minute off do not
misreport a live run.

The heartbeat thread opens its own repository handle (libgit2 handles are
not shared across threads); ``stop`` joins it and returns the commit the ref
points at, which the final commit must replace.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime, timedelta, timezone

import pygit2

from gitexp.common.layout import RUN_JSON_NAME
from gitexp.gitstore import store
from gitexp.gitstore.record import RunRecord, commit_message
from gitexp.gitstore.repo import Repo, open_repo

log = logging.getLogger(__name__)
INTERVAL_S = 60.0
LEASE_FACTOR = 5
INTERVAL_ENV = "GITEXP_HEARTBEAT_S"  # tests shorten it


def interval() -> float:
    try:
        return max(0.05, float(os.environ.get(INTERVAL_ENV, INTERVAL_S)))
    except ValueError:
        return INTERVAL_S


def lease_until(now: datetime | None = None) -> str:
    """The ISO time until which a run that beats now counts as alive."""
    moment = now or datetime.now(timezone.utc)
    return (moment + timedelta(seconds=interval() * LEASE_FACTOR)).isoformat(timespec="seconds")


class Heartbeat:
    """Renews the lease of one running experiment until ``stop``."""

    def __init__(
        self,
        repo: Repo,
        record: RunRecord,
        tree: pygit2.Oid,
        baseline: pygit2.Oid,
        commit: pygit2.Oid,
    ) -> None:
        self.root = repo.root
        self.record = record
        self.tree = tree
        self.baseline = baseline
        self.commit = commit
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="gitexp-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self.thread.start()
        return self

    def stop(self) -> pygit2.Oid:
        """Stop beating; the commit the ref points at now."""
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join()
        return self.commit

    def _beat(self) -> None:
        try:
            repo = open_repo(self.root)
        except Exception as exc:  # the repository went away: nothing to renew
            log.debug("heartbeat cannot open %s: %s", self.root, exc)
            return
        while not self.stopped.wait(interval()):
            try:
                self.commit = self._renew(repo)
            except Exception as exc:  # a missed beat is harmless; the next one retries
                log.debug("heartbeat of %s failed: %s", self.record.name, exc)

    def _renew(self, repo: Repo) -> pygit2.Oid:
        record = self.record.replace(extra={**self.record.extra, "lease_until": lease_until()})
        tree = store.with_meta_file(repo, self.tree, RUN_JSON_NAME, record.to_json())
        commit = store.write_commit(repo, tree, self.baseline, commit_message(record, {}))
        store.finalize(repo, record.name, self.commit, commit)
        return commit
