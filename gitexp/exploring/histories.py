"""Metric histories as an experiment stores them: ``.gitexp/history/<metric>.tsv``.

One file per series: a header line, then ``step<TAB>value<TAB>time`` lines
(gitexp/running/metrics.py ``history_files`` writes them). A metric's name
becomes a path by %-escaping each ``/``-separated part, ``.`` and ``..``
written as ``_.`` and ``_..`` (docs/storage-format.md); ``metric_name``
undoes that. A malformed line is skipped: a reader never fails on a record.
"""

from __future__ import annotations

from typing import Any

from gitexp.common.layout import HISTORY_DIR
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.trees import blobs

Point = tuple[int | float, float, float | None]  # step, value, unix time (None: unknown)


def series_blobs(repo: Repo, commit: str) -> dict[str, Any]:
    """{metric name: blob id} of a commit's history files, in path order."""
    tree: Any = repo.git[commit].tree
    try:
        entry = tree[HISTORY_DIR]
    except KeyError:
        return {}
    if entry.type_str != "tree":
        return {}
    found = sorted((path, oid) for path, oid, _ in blobs(repo, entry.id) if path.endswith(".tsv"))
    return {metric_name(path[: -len(".tsv")]): oid for path, oid in found}


def metric_name(path: str) -> str:
    """The metric a history path (without ``.tsv``) stands for."""
    from urllib.parse import unquote

    return "/".join(unquote(p[1:] if p in ("_.", "_..") else p) for p in path.split("/"))


def points(repo: Repo, blob_id: Any) -> list[Point]:
    """The (step, value, time) points of one history file, in file order."""
    blob: Any = repo.git[blob_id]
    out: list[Point] = []
    for line in blob.data.decode("utf-8", "replace").splitlines()[1:]:
        parts = line.split("\t")
        try:
            step, value = _step(parts[0]), float(parts[1])
            when = float(parts[2]) if len(parts) > 2 and parts[2].strip() else None
        except (IndexError, ValueError):
            continue
        out.append((step, value, when))
    return out


def _step(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)
