"""Metric step series for charts: every series of an experiment, thinned to a budget.

A chart of a million points draws no better than one of a few thousand, and
the browser pays for each; ``thin`` keeps an even spread with the first and
the last point (the last value is what a run ended on), and the minimum and
maximum (a spike must not vanish).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from gitexp.common import suggest
from gitexp.common.errors import UsageError
from gitexp.exploring import histories
from gitexp.exploring import query as q
from gitexp.gitstore.repo import Repo

P = TypeVar("P", bound=tuple[object, float, object])
MAX_POINTS = 5000


def thin(points: Sequence[P], limit: int = MAX_POINTS) -> list[P]:
    """At most about ``limit`` points of ``points`` (in order), ends and extremes kept."""
    if len(points) <= limit or limit < 4:
        return list(points)
    stride = -(-len(points) // (limit - 2))
    keep = set(range(0, len(points), stride)) | {len(points) - 1}
    keep.add(min(range(len(points)), key=lambda i: points[i][1]))
    keep.add(max(range(len(points)), key=lambda i: points[i][1]))
    return [points[i] for i in sorted(keep)]


def metric_series(
    repo: Repo, commit: str, limit: int = MAX_POINTS
) -> dict[str, list[histories.Point]]:
    """{metric: (step, value, time) points} of every series the experiment recorded."""
    found = histories.series_blobs(repo, commit)
    return {name: thin(histories.points(repo, blob), limit) for name, blob in found.items()}


class UnknownMetricError(UsageError, KeyError):
    """The experiment has no step series of that name."""


def resolve_metric(name: str, metric: str, series: Mapping[str, Any]) -> str:
    """The series ``metric`` names: as logged, as a ``metrics.`` column, or by alias
    (the notebook API and the web UI answer a typo alike, with a did-you-mean)."""
    bare = metric.removeprefix("metrics.")
    for candidate in (metric, bare):
        if candidate in series:
            return candidate
    aliased = [m for m in series if q.alias(m) == q.alias(bare)]
    if len(aliased) == 1:
        return aliased[0]
    if not series:
        raise UnknownMetricError(f"experiment {name!r} logged no metric series")
    hint = suggest.hint(bare, series) or "known: " + ", ".join(list(series)[:10])
    raise UnknownMetricError(f"experiment {name!r} has no metric {metric!r}", hint)
