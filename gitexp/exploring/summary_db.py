"""The SQLite file behind the summary cache (summary_cache.py says what it holds).

Rows are clustered by creation time (the primary key is ``(created,
commit_id)``), so `gitexp show` reads them newest first in one sequential
scan, streaming, with no sort and no row looked up by key: at 100,000
experiments a scan is a third of a second where an index-ordered or
key-by-key read costs seconds. A unique index on the commit id serves the
lookups of a few commits (`show NAME`) and the "which are cached" question;
a partial index on the sweep finds one sweep's trials.

Every function here turns SQLite trouble into a logged ``None``/``False``:
the cache is never the source of truth, so its callers read git instead.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from gitexp.common.errors import StoreError

log = logging.getLogger(__name__)

VERSION = 5  # bump when the summary's shape or the table changes: old caches are dropped
COLUMNS = "commit_id, created, status, host, pid, data, lease, sweep"
SCHEMA = (
    "DROP TABLE IF EXISTS summary;"
    "CREATE TABLE summary (created TEXT NOT NULL, commit_id TEXT NOT NULL, status TEXT,"
    " host TEXT, pid INTEGER, data TEXT NOT NULL, lease TEXT, sweep TEXT,"
    " PRIMARY KEY (created, commit_id)) WITHOUT ROWID;"
    "CREATE UNIQUE INDEX summary_commit ON summary (commit_id);"
    "CREATE INDEX summary_sweep ON summary (sweep) WHERE sweep IS NOT NULL;"
    f"PRAGMA user_version = {VERSION};"
)
CHUNK = 500  # host parameters per `IN (...)`: well under SQLite's limit


class Entry(NamedTuple):
    """A cached summary: the sortable fields, and the JSON text of
    ``{baseline, status, created, seed, params, metrics}`` (in that order, so
    `show --format json` can splice it without parsing it), and for a sweep's
    trial ``sweep: {name, trial, objectives}`` after them. A named tuple: 100,000
    of them are built per listing, at a third of a frozen dataclass's cost."""

    created: str
    status: str
    host: str | None
    pid: int | None
    text: str
    lease: str | None = None
    sweep: str | None = None  # the sweep a trial belongs to (`gitexp show` folds them)


def connect(path: Path) -> sqlite3.Connection | None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=2.0)
        if conn.execute("PRAGMA user_version").fetchone()[0] != VERSION:
            conn.executescript(SCHEMA)
        return conn
    except (sqlite3.Error, OSError) as exc:
        log.info("experiment index unavailable (%s); reading git directly", exc)
        return None


def _entry(row: tuple[object, ...]) -> Entry:
    return Entry._make(row[1:])


def read_all(conn: sqlite3.Connection) -> dict[str, Entry]:
    try:
        rows = conn.execute(f"SELECT {COLUMNS} FROM summary").fetchall()
    except sqlite3.Error as exc:
        log.info("experiment index unreadable (%s); rebuilding", exc)
        return {}
    return {row[0]: _entry(row) for row in rows}


def read_some(conn: sqlite3.Connection, commits: Iterable[str]) -> dict[str, Entry]:
    """The rows of these commits only (a few lookups through the commit index)."""
    wanted = list(commits)
    found: dict[str, Entry] = {}
    try:
        for i in range(0, len(wanted), CHUNK):
            part = wanted[i : i + CHUNK]
            marks = ",".join("?" * len(part))
            query = f"SELECT {COLUMNS} FROM summary WHERE commit_id IN ({marks})"
            found.update((row[0], _entry(row)) for row in conn.execute(query, part))
    except sqlite3.Error as exc:
        log.info("experiment index unreadable (%s)", exc)
    return found


def commits(conn: sqlite3.Connection) -> set[str] | None:
    """Every cached commit id (the commit index alone is read); None on trouble."""
    try:
        return {row[0] for row in conn.execute("SELECT commit_id FROM summary")}
    except sqlite3.Error as exc:
        log.info("experiment index unreadable (%s)", exc)
        return None


def scan(conn: sqlite3.Connection, newest_first: bool) -> Iterator[tuple[str, Entry]]:
    """Every row in creation order, streamed (the table is clustered that way)."""
    way = "DESC" if newest_first else "ASC"
    query = f"SELECT {COLUMNS} FROM summary ORDER BY created {way}, commit_id {way}"
    try:
        for row in conn.execute(query):
            yield row[0], _entry(row)
    except sqlite3.Error as exc:  # rows were shown already: no quiet fallback now
        raise StoreError(
            f"the experiment cache became unreadable: {exc}",
            "delete .git/gitexp/index.sqlite (it is rebuilt from git) and run it again",
        ) from exc


def sweep_rows(conn: sqlite3.Connection, sweep: str) -> dict[str, Entry] | None:
    try:
        rows = conn.execute(f"SELECT {COLUMNS} FROM summary WHERE sweep = ?", (sweep,))
        return {row[0]: _entry(row) for row in rows}
    except sqlite3.Error as exc:
        log.info("experiment index unreadable (%s)", exc)
        return None


def store(conn: sqlite3.Connection, fresh: dict[str, Entry], stale: int, live: set[str]) -> bool:
    """Add new summaries; drop rows of unreferenced commits once they pile up.
    False when the rows could not be written."""
    rows = [
        (c, e.created, e.status, e.host, e.pid, e.text, e.lease, e.sweep)
        for c, e in fresh.items()
        if e.status != "broken"  # its objects may arrive later (a fetch): never cache it
    ]
    try:
        with conn:
            conn.executemany(
                f"INSERT OR REPLACE INTO summary ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            if stale > max(100, len(live) // 4):
                _delete_others(conn, live)
    except sqlite3.Error as exc:
        log.info("experiment index not updated (%s)", exc)
        return False
    return True


def drop_unreferenced(conn: sqlite3.Connection, live: set[str], dry_run: bool) -> int:
    """Rows of commits not in ``live``: deleted, or only counted; how many."""
    try:
        with conn:
            _live_table(conn, live)
            if dry_run:
                found: int = conn.execute(f"SELECT count(*) FROM summary {_OTHERS}").fetchone()[0]
                return found
            return conn.execute(f"DELETE FROM summary {_OTHERS}").rowcount
    except sqlite3.Error as exc:
        log.info("experiment index not cleaned (%s)", exc)
        return 0


_OTHERS = "WHERE commit_id NOT IN (SELECT commit_id FROM live)"


def _delete_others(conn: sqlite3.Connection, live: set[str]) -> None:
    _live_table(conn, live)
    conn.execute(f"DELETE FROM summary {_OTHERS}")


def _live_table(conn: sqlite3.Connection, live: set[str]) -> None:
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS live (commit_id TEXT PRIMARY KEY)")
    conn.execute("DELETE FROM live")
    conn.executemany("INSERT INTO live VALUES (?)", [(c,) for c in live])
