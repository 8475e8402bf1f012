"""Metric histories as an experiment stores them, in either format.

``.gitexp/history/`` holds, per metric, ``<metric>.tsv`` (format 1, and short
series of format 2) or a ``<metric>.hist/`` folder (format 2: summary.json
and compressed column chunks); gitexp/gitstore/histfile.py has the layout.
``series_blobs`` names each series' entry (a blob or a tree id); everything
else takes that id and works on both:

- ``summary``: count, ends, extremes and a ~1,000-point downsample; stored
  for a long series (one small blob read), computed for a TSV one;
- ``downsampled``: at most N points that keep the shape, for charts;
- ``iter_columns`` / ``iter_points``: every point, a chunk at a time;
  ``points``: every point as a list.

A reader never fails on a record: a malformed line or a corrupt chunk is
skipped (and logged), a broken summary is recomputed from the chunks.
"""

from __future__ import annotations

import logging
import math
from array import array
from collections.abc import Iterator, Sequence
from typing import Any

from gitexp.common.downsample import TARGET, lttb
from gitexp.common.layout import HISTORY_DIR
from gitexp.gitstore import histfile as H
from gitexp.gitstore.histfile import FormatError, SeriesSummary
from gitexp.gitstore.histsummary import SummaryBuilder
from gitexp.gitstore.repo import Repo

__all__ = ["SeriesSummary", "downsampled", "iter_columns", "iter_points", "points", "series_blobs"]
log = logging.getLogger(__name__)
Point = H.Point
Columns = tuple[Sequence[H.Step], Sequence[float], Sequence[float | None]]
TSV_BLOCK = 65_536  # points of a TSV file summarised at a time


def series_blobs(repo: Repo, commit: str) -> dict[str, Any]:
    """{metric name: id of its ``.tsv`` blob or ``.hist`` tree}, in path order."""
    tree: Any = repo.git[commit].tree
    try:
        entry = tree[HISTORY_DIR]
    except KeyError:
        return {}
    if entry.type_str != "tree":
        return {}
    found: list[tuple[str, Any]] = []
    _walk(repo, entry.id, "", found)
    return {metric_name(path): oid for path, oid in sorted(found)}


def _walk(repo: Repo, tree_id: Any, prefix: str, found: list[tuple[str, Any]]) -> None:
    for entry in _git(repo)[tree_id]:
        path = prefix + str(entry.name)
        if entry.type_str == "blob" and path.endswith(H.TSV):
            found.append((path[: -len(H.TSV)], entry.id))
        elif entry.type_str == "tree":
            if path.endswith(H.FOLDER) and H.SUMMARY in _git(repo)[entry.id]:
                found.append((path[: -len(H.FOLDER)], entry.id))
            _walk(repo, entry.id, path + "/", found)


def metric_name(path: str) -> str:
    """The metric a history path (without ``.tsv``/``.hist``) stands for."""
    return H.metric_name(path)


def is_columnar(repo: Repo, oid: Any) -> bool:
    """Whether the series is a ``.hist`` folder (else a TSV file)."""
    return bool(_git(repo)[oid].type_str == "tree")


def iter_columns(repo: Repo, oid: Any) -> Iterator[Columns]:
    """(steps, values, times) of every point, a chunk (or a TSV block) at a time.

    A time is NaN (columns) or None (TSV) when the source had none."""
    git = _git(repo)
    obj = git[oid]
    if obj.type_str != "tree":
        yield from _tsv_blocks(bytes(obj.data))
        return
    for name, kind in H.chunk_files([str(e.name) for e in obj]):
        try:
            yield H.decode_chunk(bytes(git[obj[name].id].data), kind)
        except FormatError as exc:
            log.warning("history chunk %s skipped: %s", name, exc)


def _tsv_blocks(data: bytes) -> Iterator[Columns]:
    block: list[Point] = []
    for point in H.tsv_points(data):
        block.append(point)
        if len(block) == TSV_BLOCK:
            yield _unzip(block)
            block = []
    if block:
        yield _unzip(block)


def _unzip(block: list[Point]) -> Columns:
    steps, values, times = zip(*block, strict=True)
    return steps, values, times


def iter_points(repo: Repo, oid: Any) -> Iterator[Point]:
    """Every (step, value, time) point in logging order; an unknown time is None."""
    for steps, values, times in iter_columns(repo, oid):
        if isinstance(times, array):
            yield from zip(steps, values, (None if t != t else t for t in times), strict=True)
        else:
            yield from zip(steps, values, times, strict=True)


def points(repo: Repo, blob_id: Any) -> list[Point]:
    """Every point of one series, in logging order (use ``downsampled`` for charts)."""
    return list(iter_points(repo, blob_id))


def summary(repo: Repo, oid: Any) -> SeriesSummary:
    """The series' summary: the stored one, else computed in one streaming pass."""
    git = _git(repo)
    obj = git[oid]
    if obj.type_str == "tree":
        try:
            return SeriesSummary.from_json(bytes(git[obj[H.SUMMARY].id].data))
        except (FormatError, KeyError) as exc:
            log.warning("history summary recomputed: %s", exc)
    builder = SummaryBuilder()
    for steps, values, times in iter_columns(repo, oid):
        builder.add(steps, values, times, integral=_integral(steps))
    return builder.result()


def _integral(steps: Sequence[H.Step]) -> bool:
    if isinstance(steps, array):
        return steps.typecode == "q"
    return all(type(s) is int for s in steps)


def downsampled(repo: Repo, oid: Any, max_points: int = TARGET) -> list[Point]:
    """At most ``max_points`` points keeping the series' shape (LTTB; non-finite values
    left out); every point when the series has no more than that."""
    stored = summary(repo, oid)
    if stored.count <= max_points:
        return points(repo, oid)
    if max_points <= len(stored.downsample) or max_points <= TARGET:
        return lttb_points(stored.downsample, max_points)
    builder = SummaryBuilder(max_points)  # finer than stored: one more pass
    for steps, values, times in iter_columns(repo, oid):
        builder.add(steps, values, times, integral=True)
    return builder.result().downsample


def lttb_points(series: Sequence[Point], max_points: int) -> list[Point]:
    """LTTB of points in order, x their position."""
    finite = [(i, s, v, t) for i, (s, v, t) in enumerate(series) if math.isfinite(v)]
    return [(s, v, t) for _, s, v, t in lttb(finite, max_points)]


def _git(repo: Repo) -> Any:
    """The pygit2 handle, untyped: objects are looked up by id at every call site."""
    return repo.git
