"""A derived cache of experiment summaries, keyed by commit id.

Commits never change, so a summary cached under a commit id is right forever;
refs do change (runs, `git fetch`, `git update-ref -d`), so they are read
fresh on every call and only the commits they point at are looked up here.
The cache lives in ``.git/gitexp/index.sqlite``; deleting it is always safe.
Any SQLite trouble (read-only repo, corrupt file, lock) falls back to reading
git directly: the cache is never the source of truth.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitexp.common.layout import META_DIR, METRICS_JSON_NAME, RUN_JSON_NAME
from gitexp.gitstore.repo import MISSING_OBJECT, Repo
from gitexp.gitstore.trees import read_json

if TYPE_CHECKING:
    import sqlite3

log = logging.getLogger(__name__)

INDEX_FILE = "index.sqlite"
VERSION = 4  # bump when the summary's shape changes: old caches are dropped
PARALLEL_MIN = 1000  # commits to read before forking workers pays off


@dataclass(frozen=True)
class Entry:
    """A cached summary: the sortable fields, and the JSON text of
    ``{baseline, status, created, seed, params, metrics}`` (in that order, so
    `show --format json` can splice it without parsing it), and for a sweep's
    trial ``sweep: {name, trial, objectives}`` after them."""

    created: str
    status: str
    host: str | None
    pid: int | None
    text: str
    lease: str | None = None
    sweep: str | None = None  # the sweep a trial belongs to (`gitexp show` folds them)


def summaries(repo: Repo, commits: Iterable[str], every_ref: bool = False) -> dict[str, Entry]:
    """{commit: entry} for the given commits, from the cache where it has them.

    ``every_ref``: the commits are those of all experiment refs, so cached rows
    of other commits are garbage and may be pruned. A partial lookup (`show
    NAME`, `compare A B`) never prunes: the next full `show` stays warm.
    """
    wanted = set(commits)
    conn = _connect(repo.state_dir / INDEX_FILE)
    cached = _read_all(conn) if conn is not None else {}
    found = {c: cached[c] for c in wanted if c in cached}
    missing = wanted - found.keys()
    fresh = read_entries(repo, sorted(missing))
    found.update(fresh)
    if conn is not None:
        stale = len(cached) - (len(wanted) - len(missing)) if every_ref else 0
        _store(conn, fresh, stale=stale, live=wanted)
        conn.close()
    return found


def read_entries(repo: Repo, commits: list[str]) -> dict[str, Entry]:
    """Entries of commits not cached yet; many of them are read by forked workers
    (a cold cache over 10,000 experiments is CPU-bound object inflation) when
    forking is safe, else here; safe to call from several threads at once."""
    workers = _workers(len(commits))
    if workers > 1:
        try:
            return _read_parallel(repo, commits, workers)
        except Exception as exc:  # a worker that could not fork or died: read here
            log.info("parallel read failed (%s); reading serially", exc)
    return {c: read_entry(repo, c) for c in commits}


def _workers(count: int) -> int:
    import os
    import sys

    if sys.platform != "linux" or count < PARALLEL_MIN or not fork_is_safe():
        return 1
    return max(1, min(len(os.sched_getaffinity(0)), 8, count // (PARALLEL_MIN // 2)))


def fork_is_safe() -> bool:
    """Only from the main thread of a process running no other thread.

    A forked child holds a copy of every lock another thread held at that moment
    (logging's, the allocator's, libgit2's), never to be released: a threaded
    server or a Jupyter kernel (which runs threads of its own) reads serially.
    """
    import threading

    return threading.current_thread() is threading.main_thread() and threading.active_count() == 1


def _read_parallel(repo: Repo, commits: list[str], workers: int) -> dict[str, Entry]:
    import multiprocessing

    chunks = [(str(repo.root), commits[i::workers]) for i in range(workers)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        parts = pool.starmap(_read_chunk, chunks)
    return {commit: entry for part in parts for commit, entry in part}


def _read_chunk(root: str, commits: list[str]) -> list[tuple[str, Entry]]:
    from gitexp.gitstore.repo import open_repo

    repo = open_repo(root)  # a fresh handle: libgit2 state is not shared across fork
    return [(c, read_entry(repo, c)) for c in commits]


BROKEN = "broken"  # the commit or its record is gone from the object store


def read_entry(repo: Repo, commit: str) -> Entry:
    """What `show` needs of one experiment commit, read from git objects."""
    try:
        return _read_entry(repo, commit)
    except MISSING_OBJECT:  # e.g. `git gc --prune=now` ran beside a run
        return Entry("", BROKEN, None, None, json.dumps({"status": BROKEN}))


def _read_entry(repo: Repo, commit: str) -> Entry:
    obj: Any = repo.git[commit]
    meta = _meta_tree(repo, obj.tree)
    run = read_json(repo, meta, RUN_JSON_NAME)  # a lost blob raises: broken
    parents = obj.parent_ids
    status = str(run.get("status", "unknown"))
    created = str(run.get("started") or _iso(obj.commit_time))
    summary = {
        "baseline": run.get("baseline") or (str(parents[0]) if parents else None),
        "status": status,
        "created": created,
        "seed": run.get("seed"),
        "params": run.get("params") if isinstance(run.get("params"), dict) else {},
        "metrics": read_json(repo, meta, METRICS_JSON_NAME),
    }
    sweep = run.get("sweep") if isinstance(run.get("sweep"), str) else None
    if sweep is not None:
        summary["sweep"] = {
            "name": sweep,
            "trial": run.get("trial"),
            "objectives": run.get("sweep_objectives") or [],
        }
    pid, lease = run.get("pid"), run.get("lease_until")
    return Entry(
        created,
        status,
        run.get("host"),
        pid if isinstance(pid, int) else None,
        json.dumps(summary, default=str),
        lease if isinstance(lease, str) else None,
        sweep,
    )


def _meta_tree(repo: Repo, tree: Any) -> Any:
    """The .gitexp/ subtree, looked up once (each path lookup would reload it).
    Absent: None; present but missing from the object store: raises (broken)."""
    if META_DIR not in tree:
        return None
    return repo.git[tree[META_DIR].id]


def _iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="milliseconds")


def _connect(path: Path) -> sqlite3.Connection | None:
    import sqlite3

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=2.0)
        if conn.execute("PRAGMA user_version").fetchone()[0] != VERSION:
            conn.executescript(
                "DROP TABLE IF EXISTS summary;"
                "CREATE TABLE summary (commit_id TEXT PRIMARY KEY, created TEXT, status TEXT,"
                " host TEXT, pid INTEGER, data TEXT NOT NULL, lease TEXT, sweep TEXT)"
                " WITHOUT ROWID;"
                f"PRAGMA user_version = {VERSION};"
            )
        return conn
    except (sqlite3.Error, OSError) as exc:
        log.info("experiment index unavailable (%s); reading git directly", exc)
        return None


def _read_all(conn: sqlite3.Connection) -> dict[str, Entry]:
    import sqlite3

    try:
        rows = conn.execute("SELECT * FROM summary").fetchall()
        return {row[0]: Entry(*row[1:]) for row in rows}
    except sqlite3.Error as exc:
        log.info("experiment index unreadable (%s); rebuilding", exc)
        return {}


def _store(conn: sqlite3.Connection, fresh: dict[str, Entry], stale: int, live: set[str]) -> None:
    """Add new summaries; drop rows of unreferenced commits once they pile up."""
    import sqlite3

    rows = [
        (c, e.created, e.status, e.host, e.pid, e.text, e.lease, e.sweep)
        for c, e in fresh.items()
        if e.status != BROKEN  # its objects may arrive later (a fetch): never cache it
    ]
    try:
        with conn:
            conn.executemany("INSERT OR REPLACE INTO summary VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            if stale > max(100, len(live) // 4):
                _prune(conn, live)
    except sqlite3.Error as exc:
        log.info("experiment index not updated (%s)", exc)


def _prune(conn: sqlite3.Connection, live: set[str]) -> None:
    conn.execute("CREATE TEMP TABLE live (commit_id TEXT PRIMARY KEY)")
    conn.executemany("INSERT INTO live VALUES (?)", [(c,) for c in live])
    conn.execute("DELETE FROM summary WHERE commit_id NOT IN (SELECT commit_id FROM live)")
