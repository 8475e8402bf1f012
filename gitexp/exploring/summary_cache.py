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
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

from gitexp.common.layout import META_DIR, METRICS_JSON_NAME, RUN_JSON_NAME
from gitexp.exploring import summary_db as db
from gitexp.exploring.summary_db import Entry as Entry  # `index.Entry` to its readers
from gitexp.gitstore import store
from gitexp.gitstore.repo import MISSING_OBJECT, Repo
from gitexp.gitstore.trees import read_json

log = logging.getLogger(__name__)

INDEX_FILE = "index.sqlite"
PARALLEL_MIN = 1000  # commits to read before forking workers pays off


Listed = tuple[str, str, Entry]  # (name, commit, entry) of one experiment ref


def summaries(repo: Repo, commits: Iterable[str], every_ref: bool = False) -> dict[str, Entry]:
    """{commit: entry} for the given commits, from the cache where it has them.

    ``every_ref``: the commits are those of all experiment refs, so cached rows
    of other commits are garbage and may be pruned. A partial lookup (`show
    NAME`, `compare A B`) reads only its own rows and never prunes: the next
    full `show` stays warm.
    """
    wanted = set(commits)
    conn = db.connect(repo.state_dir / INDEX_FILE)
    if conn is None:
        return read_entries(repo, sorted(wanted))
    cached = db.read_all(conn) if every_ref else db.read_some(conn, wanted)
    found = {c: cached[c] for c in wanted if c in cached}
    fresh = read_entries(repo, sorted(wanted - found.keys()))
    found.update(fresh)
    stale = len(cached) - (len(found) - len(fresh)) if every_ref else 0
    db.store(conn, fresh, stale=stale, live=wanted)
    conn.close()
    return found


def ordered(
    repo: Repo, refs: dict[str, str], newest_first: bool = True, every_ref: bool = True
) -> Iterator[Listed]:
    """(name, commit, entry) of every ref in ``refs`` (name → commit), newest first
    (or oldest), streamed from the cache: commits not cached yet are read and
    stored first, then the rows come in the table's own order, a few at a time.
    Ties on the creation time go by name, as `list_summaries` orders them.
    ``every_ref`` False: ``refs`` is a part (a group), so no other row is dropped."""
    by_commit: dict[str, list[str]] = {}
    for name, commit in refs.items():
        by_commit.setdefault(commit, []).append(name)
    conn = db.connect(repo.state_dir / INDEX_FILE)
    known = db.commits(conn) if conn is not None else None
    if conn is None or known is None:
        yield from _in_memory(repo, by_commit, newest_first)
        return
    fresh = read_entries(repo, sorted(by_commit.keys() - known))
    live = by_commit.keys()
    stale = len(known) - (len(live) - len(fresh)) if every_ref else 0
    stored = db.store(conn, fresh, stale=stale, live=set(live))
    if not stored:
        conn.close()
        yield from _in_memory(repo, by_commit, newest_first)
        return
    broken = {c: e for c, e in fresh.items() if e.status == BROKEN}  # never cached
    try:
        if not newest_first:
            yield from _rows(by_commit, broken.items(), newest_first)
        yield from _rows(by_commit, db.scan(conn, newest_first), newest_first)
        if newest_first:
            yield from _rows(by_commit, broken.items(), newest_first)
    finally:
        conn.close()


def _rows(
    by_commit: dict[str, list[str]], rows: Iterable[tuple[str, Entry]], newest_first: bool
) -> Iterator[Listed]:
    """The rows of live commits, one per name; equal creation times ordered by name."""
    tie: list[Listed] = []
    for commit, entry in rows:
        names = by_commit.get(commit)
        if names is None:
            continue  # a commit no ref points at any more
        if tie and tie[0][2].created != entry.created:
            yield from sorted(tie, key=_name, reverse=newest_first)
            tie = []
        tie += [(name, commit, entry) for name in names]
    yield from sorted(tie, key=_name, reverse=newest_first)


def _name(item: Listed) -> str:
    return item[0]


def _in_memory(repo: Repo, by_commit: dict[str, list[str]], newest_first: bool) -> Iterator[Listed]:
    """The same rows without a usable cache (read-only repository, locked file)."""
    found = read_entries(repo, sorted(by_commit))
    items = [(n, c, found[c]) for c, names in by_commit.items() for n in names]
    items.sort(key=lambda i: (i[2].created, i[0]), reverse=newest_first)
    yield from items


def trials(repo: Repo, sweep: str, by_commit: dict[str, list[str]]) -> list[Listed]:
    """The trials of one sweep among the refs ``by_commit`` (commit → names), newest
    first: one indexed query (`gitexp show` folds a sweep without reading every row)."""
    conn = db.connect(repo.state_dir / INDEX_FILE)
    rows = db.sweep_rows(conn, sweep) if conn is not None else None
    if conn is not None:
        conn.close()
    if rows is None:
        found = summaries(repo, by_commit)
        rows = {c: e for c, e in found.items() if e.sweep == sweep}
    items = [(n, c, e) for c, e in rows.items() for n in by_commit.get(c, [])]
    return sorted(items, key=lambda i: (i[2].created, i[0]), reverse=True)


def drop_unreferenced(repo: Repo, live: set[str], dry_run: bool = False) -> int:
    """Delete (or with ``dry_run`` count) cached rows of commits not in ``live``."""
    conn = db.connect(repo.state_dir / INDEX_FILE)
    if conn is None:
        return 0
    try:
        return db.drop_unreferenced(conn, live, dry_run)
    finally:
        conn.close()


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


BROKEN = "broken"  # the commit or its record is gone, or the ref points at no commit


def read_entry(repo: Repo, commit: str) -> Entry:
    """What `show` needs of one experiment commit, read from git objects."""
    kind = store.not_a_commit(repo, commit)  # a tag, tree or blob: only its header read
    if kind is not None:
        return broken_entry(f"the ref points at {kind}, not a commit")
    try:
        return _read_entry(repo, commit)
    except MISSING_OBJECT:  # e.g. `git gc --prune=now` ran beside a run
        return broken_entry("its commit or record is missing from the object store")


def broken_entry(reason: str) -> Entry:
    """A row for `show` that says what is wrong; never cached (summary_db.store)."""
    return Entry("", BROKEN, None, None, json.dumps({"status": BROKEN, "reason": reason}))


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
