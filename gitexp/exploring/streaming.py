"""`gitexp show`'s listing, streamed: experiments in order, sweeps folded, each row
parsed only when it is shown.

At 100,000 experiments a listing costs reading the refs (gitstore/refscan.py)
and one scan of the summary cache in its own order (summary_db.py); no row is
parsed for `--format json` (the cached JSON text is spliced behind the name),
and a table parses only the rows it shows. A sweep is folded where its newest
trial is, into one row built from that sweep's trials alone (one indexed
query), so folding never needs every row in memory either.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from gitexp.exploring import summary_cache as index
from gitexp.exploring.summaries import ExperimentSummary
from gitexp.exploring.sweep_groups import SweepGroup
from gitexp.gitstore import store
from gitexp.gitstore.record import observed_status
from gitexp.gitstore.repo import Repo

_PLAIN = re.compile(r"[A-Za-z0-9._/-]*\Z")  # a name JSON needs no escape for


@dataclass(frozen=True)
class Folded:
    """The row of a sweep, at its newest trial's place (its trials come later, on demand)."""

    sweep: str


Item = index.Listed | Folded


class Stream:
    """The experiments one `gitexp show` lists: those under ``group`` (a ``NAME/``
    prefix, or all), newest first unless ``newest_first`` is False, each sweep
    folded into one row when ``fold``. Iterating yields raw items, cheaply."""

    def __init__(
        self, repo: Repo, group: str = "", fold: bool = True, newest_first: bool = True
    ) -> None:
        self.repo = repo
        self.refs = store.under(repo, group)  # a prefix reads only the refs under it
        self.every_ref = not group  # only then may the cache drop rows of other commits
        self.fold = fold
        self.newest_first = newest_first

    def __iter__(self) -> Iterator[Item]:
        folded: set[str] = set()
        for item in index.ordered(self.repo, self.refs, self.newest_first, self.every_ref):
            sweep = item[2].sweep
            if not self.fold or sweep is None:
                yield item
            elif sweep not in folded:
                folded.add(sweep)
                yield Folded(sweep)

    def __len__(self) -> int:
        return len(self.refs)

    @cached_property
    def _by_commit(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name, commit in self.refs.items():
            out.setdefault(commit, []).append(name)
        return out

    def group(self, sweep: str) -> SweepGroup:
        """A folded sweep with its trials (newest first), read now."""
        trials = index.trials(self.repo, sweep, self._by_commit)
        return SweepGroup(sweep, [summary(t) for t in trials])

    def shown(self, item: Item) -> ExperimentSummary | SweepGroup:
        return self.group(item.sweep) if isinstance(item, Folded) else summary(item)

    def json_text(self, item: Item) -> str:
        """The item's `show --format json` object, as text."""
        if isinstance(item, Folded):
            return json.dumps(self.group(item.sweep).to_json(), default=str)
        return json_text(item)

    def row(self, item: Item) -> dict[str, Any]:
        """The flat row tables, CSV, filters and sorting use."""
        return self.shown(item).row()


def summary(item: index.Listed) -> ExperimentSummary:
    name, commit, entry = item
    status = observed_status(entry.status, entry.host, entry.pid, entry.lease)
    return ExperimentSummary(name, commit, status, entry.created, entry)


def json_text(item: index.Listed) -> str:
    """``summary(item).json_text()``, without building the summary in the common
    case (a plain name, a status that needs no second look): a third of the time."""
    name, commit, entry = item
    if entry.status == "running" or not _PLAIN.match(name):
        return summary(item).json_text()
    head = f'{{"name": "{name}", "ref": "{store.REF_PREFIX}{name}", "commit": "{commit}", '
    return head + entry.text[1:]
