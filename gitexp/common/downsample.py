"""Downsampling a long series to a few points that keep its shape (stdlib only).

``lttb`` is Largest-Triangle-Three-Buckets (Steinarsson, 2013): one point per
bucket, the one that makes the largest triangle with the point kept before
it and the mean of the next bucket; the first and the last point are kept.
Its inner loop is Python, so ``Reducer`` never runs it on every point of a
10-million-point series: as points stream in, it keeps each bucket's minimum
and maximum (C-level ``min``/``max``/``index``; the MinMaxLTTB preselection
of Van Der Donckt et al., 2023), and when those candidates pass ``cap`` it
runs LTTB on them down to half and doubles the bucket width. Memory stays
under ``cap`` points whatever the length; ``result`` is LTTB of the
candidates down to the target, the series' first and last point included.

x is the point's position in the series (logging order), not its step, so
steps logged out of order or repeated never fold the line back. Values that
are not finite (nan, inf) are left out: a line cannot be drawn through them.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

Candidate = tuple[int, Any, float, Any]  # position, step, value, time
TARGET = 1000
CAP = 8_192


def lttb(points: Sequence[Candidate], target: int) -> list[Candidate]:
    """At most ``target`` of ``points`` (sorted by position), first and last kept.

    Buckets split the positions evenly (not the points: candidates are
    denser where the reducer's buckets were narrower); an empty one is skipped."""
    n = len(points)
    if n <= target or target < 3:
        return list(points) if n <= target else [points[0], points[-1]][:target]
    xs = [p[0] for p in points]
    ys = [p[2] for p in points]
    span = (xs[-1] - xs[0]) / (target - 2)
    cuts = [bisect_left(xs, xs[0] + k * span, 1, n - 1) for k in range(1, target - 2)]
    bounds = [(lo, hi) for lo, hi in pairwise([1, *cuts, n - 1]) if hi > lo]
    kept, a = [0], 0
    for (lo, hi), (nlo, nhi) in zip(bounds, [*bounds[1:], (n - 1, n)], strict=True):
        cx = sum(xs[nlo:nhi]) / (nhi - nlo)
        cy = sum(ys[nlo:nhi]) / (nhi - nlo)
        a = _largest(xs, ys, lo, hi, xs[a], ys[a], cx, cy)
        kept.append(a)
    kept.append(n - 1)
    return [points[k] for k in kept]


def _largest(
    xs: list[int], ys: list[float], lo: int, hi: int, ax: float, ay: float, cx: float, cy: float
) -> int:
    """The index in [lo, hi) making the largest triangle with (ax, ay) and (cx, cy)."""
    dx, dy = ax - cx, cy - ay
    best, area = lo, -1.0
    for j in range(lo, hi):
        size = abs(dx * (ys[j] - ay) - (ax - xs[j]) * dy)
        if size > area:
            best, area = j, size
    return best


class Reducer:
    """Streaming downsampler: feed blocks in order with ``add``, then ``result``."""

    def __init__(self, target: int = TARGET, cap: int = CAP) -> None:
        self.target = target
        self.cap = max(cap, 4 * target)
        self.width = 1  # points per min/max bucket
        self.kept: list[Candidate] = []
        self.seen = 0
        self.last: Candidate | None = None

    def add(self, steps: Sequence[Any], values: Sequence[float], times: Sequence[Any]) -> None:
        """The next ``len(values)`` points of the series."""
        start, n = self.seen, len(values)
        self.seen += n
        if not n:
            return
        total = sum(values)
        if math.isfinite(total):  # fast path: every value finite (an overflow takes the other)
            positions: Sequence[int] = range(start, start + n)
            self.last = (start + n - 1, steps[-1], values[-1], times[-1])
        else:
            finite = [i for i, v in enumerate(values) if math.isfinite(v)]
            if not finite:
                return
            positions = [start + i for i in finite]
            steps, times = [steps[i] for i in finite], [times[i] for i in finite]
            values = [values[i] for i in finite]
            self.last = (positions[-1], steps[-1], values[-1], times[-1])
        self._keep(positions, steps, values, times)
        if len(self.kept) > self.cap:
            self.kept = lttb(self.kept, self.cap // 2)
            self.width *= 2

    def _keep(
        self, xs: Sequence[int], steps: Sequence[Any], values: Sequence[float], times: Sequence[Any]
    ) -> None:
        w, kept = self.width, self.kept
        if w <= 2:  # a bucket of two keeps both
            kept.extend(zip(xs, steps, values, times, strict=True))
            return
        if not kept:  # the series' first point, whatever its bucket
            kept.append((xs[0], steps[0], values[0], times[0]))
        for lo in range(0, len(values), w):
            seg = values[lo : lo + w]
            i, j = seg.index(min(seg)), seg.index(max(seg))
            for k in (i, j) if i < j else (j, i) if j < i else (i,):
                if xs[lo + k] != kept[-1][0]:
                    kept.append((xs[lo + k], steps[lo + k], seg[k], times[lo + k]))

    def result(self) -> list[Candidate]:
        """The downsampled series, in order, at most ``target`` points."""
        kept = self.kept
        if self.last is not None and kept and kept[-1][0] != self.last[0]:
            kept = [*kept, self.last]
        return lttb(kept, self.target)
