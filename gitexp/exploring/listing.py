"""The experiments table for a long-lived reader (the web UI): rows kept between requests.

`gitexp show` lists once and exits; a server answers many requests for pages of
the same table. ``ExperimentTable`` keeps the summaries and flat rows of the
refs it last read. Before each answer it takes the refs' stamp (refstamp.py,
a few stats): unchanged, and the refs read less than ``RECHECK_S`` ago, the
rows stand; else the refs are read, and the rows rebuilt if a ref moved
(the summary cache makes that cheap). A running experiment whose process
died is noticed without any ref moving: its liveness is checked every time.

As in `gitexp show`, each sweep is folded into one row (``NAME/``, its best
trial's params and metrics; sweep_groups.fold) unless the query asks for
trials or filters on ``sweep``; the folded rows are made once per snapshot, when
first asked for, and filters, sort and search then apply to them. A page
is filtered and sorted in `gitexp show`'s language (query.py), searched by
name, and sliced; the filtered order is kept per query, so paging through it
sorts once. Thread-safe: the requests of a threaded server share one table.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from gitexp.common.errors import UsageError
from gitexp.exploring import query as q
from gitexp.exploring.refstamp import RefStamp, Stamp
from gitexp.exploring.summaries import FIXED_COLUMNS, ExperimentSummary, list_summaries
from gitexp.exploring.sweep_groups import filters_on_sweep, fold
from gitexp.gitstore import store
from gitexp.gitstore.record import observed_status
from gitexp.gitstore.repo import Repo

Row = dict[str, Any]
MAX_LIMIT = 1000
REMEMBERED_QUERIES = 16
RECHECK_S = 2.0  # the refs are read at least this often, stamp or not


@dataclass(frozen=True)
class PageQuery:
    """What a page of the table asks for: `gitexp show`'s filters and sort, a name
    search (a plain, case-insensitive substring), the slice, and every trial
    (``trials``) rather than one row per sweep."""

    filters: tuple[str, ...] = ()
    sort_by: str | None = None
    descending: bool | None = None
    search: str = ""
    offset: int = 0
    limit: int = 50
    trials: bool = False

    def lists_trials(self) -> bool:
        """Trials unfolded: asked for, or a filter on ``sweep`` (folded, it would
        match nothing), as in `gitexp show`."""
        return self.trials or filters_on_sweep(self.filters)

    def key(self) -> tuple[Any, ...]:
        return (
            self.filters,
            self.sort_by,
            self.descending,
            self.search.lower(),
            self.lists_trials(),
        )


@dataclass(frozen=True)
class Page:
    """One page: the rows of the slice, how many rows match, how many rows the
    table has in all (a folded sweep is one row), every column of the table (for
    a column chooser), and whether trials are listed (``trials``) or folded."""

    rows: list[Row]
    total: int
    count: int
    columns: list[str]
    offset: int
    limit: int
    trials: bool = False


@dataclass
class _Snapshot:
    refs: dict[str, str] = field(default_factory=dict)
    summaries: list[ExperimentSummary] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    running: list[int] = field(default_factory=list)  # indices of `running` records
    ordered: OrderedDict[tuple[Any, ...], list[Row]] = field(default_factory=OrderedDict)
    folded: tuple[list[Row], list[str]] | None = None  # rows and columns, made when asked

    def view(self, trials: bool) -> tuple[list[Row], list[str]]:
        """(rows, columns): every experiment's, or with each sweep folded."""
        if trials:
            return self.rows, self.columns
        if self.folded is None:
            self.folded = _folded(self)
        return self.folded


class ExperimentTable:
    """Every experiment's row, refreshed from the refs on demand (see the module doc)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snap = _Snapshot()
        self._stamps: RefStamp | None = None
        self._stamp: Stamp | None = None
        self._read_at = float("-inf")

    def summaries(self, repo: Repo) -> list[ExperimentSummary]:
        """Every experiment, newest first, as of now."""
        with self._lock:
            self._refresh(repo)
            return list(self._snap.summaries)

    def page(self, repo: Repo, query: PageQuery) -> Page:
        """A page of the table as of now; a bad filter or sort key is a UsageError."""
        if query.offset < 0 or not 0 < query.limit <= MAX_LIMIT:
            raise UsageError(f"a page is offset >= 0 and 1..{MAX_LIMIT} rows")
        with self._lock:
            self._refresh(repo)
            trials = query.lists_trials()
            every, columns = self._snap.view(trials)
            ordered = self._ordered(self._snap, query)
        rows = ordered[query.offset : query.offset + query.limit]
        return Page(rows, len(ordered), len(every), columns, query.offset, query.limit, trials)

    def _refresh(self, repo: Repo) -> None:
        self._stamps = self._stamps or RefStamp(repo)
        stamp, now = self._stamps.stamp(), time.monotonic()
        moved = stamp is None or stamp != self._stamp or now - self._read_at >= RECHECK_S
        if moved:
            self._stamp, self._read_at = stamp, now
            if store.ref_targets(repo) != self._snap.refs:
                self._rebuild(repo)
                return
        if self._recheck_running():
            self._snap.ordered.clear()
            self._snap.folded = None

    def _rebuild(self, repo: Repo) -> None:
        snap = self._snap
        old = {(s.name, s.commit): r for s, r in zip(snap.summaries, snap.rows, strict=True)}
        summaries = list_summaries(repo)
        rows = [_row(s, old.get((s.name, s.commit))) for s in summaries]
        refs = {s.name: s.commit for s in summaries}
        running = [i for i, s in enumerate(summaries) if s.entry.status == "running"]
        self._snap = _Snapshot(refs, summaries, rows, q.all_columns(rows), running)

    def _recheck_running(self) -> bool:
        """A running experiment's process may be gone with no ref moving: look again."""
        snap, changed = self._snap, False
        for i in snap.running:
            s = snap.summaries[i]
            if s.status != "running":
                continue
            entry = s.entry
            status = observed_status(entry.status, entry.host, entry.pid, entry.lease)
            if status != s.status:
                snap.summaries[i] = ExperimentSummary(s.name, s.commit, status, s.created, entry)
                snap.rows[i] = {**snap.rows[i], "status": status}
                changed = True
        return changed

    def _ordered(self, snap: _Snapshot, query: PageQuery) -> list[Row]:
        key = query.key()
        found = snap.ordered.get(key)
        if found is None:
            found = _filter_and_sort(*snap.view(query.lists_trials()), query)
            snap.ordered[key] = found
            while len(snap.ordered) > REMEMBERED_QUERIES:
                snap.ordered.popitem(last=False)
        snap.ordered.move_to_end(key)
        return found


def _row(summary: ExperimentSummary, known: Row | None) -> Row:
    """The row of an unchanged commit is reused unless its observed status moved."""
    if known is not None and known["status"] == summary.status:
        return known
    return summary.row()


def _folded(snap: _Snapshot) -> tuple[list[Row], list[str]]:
    """The folded table: each sweep's row where its newest trial is; the other
    experiments' rows are the snapshot's own."""
    if all(s.sweep is None for s in snap.summaries):
        return snap.rows, snap.columns
    row_of = {s.name: r for s, r in zip(snap.summaries, snap.rows, strict=True)}
    rows = [
        row_of[item.name] if isinstance(item, ExperimentSummary) else item.row()
        for item in fold(snap.summaries)
    ]
    return rows, q.all_columns(rows)


def _filter_and_sort(rows: list[Row], columns: list[str], query: PageQuery) -> list[Row]:
    """`gitexp show`'s filters and order (query.run_query's rules), then the search."""
    if not rows:
        for text in query.filters:  # a bad filter fails even on an empty table
            q.parse_filter(text)
        return rows
    known = [*FIXED_COLUMNS, *columns]
    if query.filters:
        rows = q.apply_filters(rows, query.filters, known)
    if query.sort_by:
        rows = q.sort_rows(rows, q.resolve_key(query.sort_by, known), bool(query.descending))
    elif query.descending is False:
        rows = rows[::-1]
    needle = query.search.strip().lower()
    if needle:
        rows = [r for r in rows if needle in str(r["name"]).lower()]
    return rows
