"""A series' summary, computed in one pass over its points in blocks.

The recorder feeds each chunk as it writes it, so the summary stored beside a
long series costs no second read; a reader feeds the points of a format-1
TSV file, which has no stored summary. Memory is bounded (see
gitexp/common/downsample.py), whatever the length.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from gitexp.common.downsample import TARGET, Reducer
from gitexp.gitstore.histfile import SeriesSummary, Step


class SummaryBuilder:
    """Count, ends, extremes and downsample of a series fed in order with ``add``."""

    def __init__(self, target: int = TARGET) -> None:
        self.count = 0
        self.first_step: Step | None = None
        self.last_step: Step | None = None
        self.first = self.last = self.min = self.max = math.nan
        self.integral = True
        self.reducer = Reducer(target)

    def add(
        self,
        steps: Sequence[Step],
        values: Sequence[float],
        times: Sequence[float | None],
        integral: bool | None = None,
    ) -> None:
        """The next block; ``integral``: whether every step is an int (None: look)."""
        if not values:
            return
        if self.count == 0:
            self.first_step, self.first = steps[0], values[0]
        self.count += len(values)
        self.last_step, self.last = steps[-1], values[-1]
        if integral is None:
            integral = all(type(s) is int for s in steps)
        self.integral = self.integral and integral
        self._extremes(values)
        self.reducer.add(steps, values, times)

    def _extremes(self, values: Sequence[float]) -> None:
        numbers: Sequence[float] = values
        if math.isnan(sum(values)):  # NaN (or inf and -inf) present: leave NaN out
            numbers = [v for v in values if v == v]
            if not numbers:
                return
        low, high = min(numbers), max(numbers)
        self.min = low if math.isnan(self.min) else min(self.min, low)
        self.max = high if math.isnan(self.max) else max(self.max, high)

    def result(self, chunks: Sequence[tuple[str, int]] = ()) -> SeriesSummary:
        down = [(s, v, _time(t)) for _, s, v, t in self.reducer.result()]
        return SeriesSummary(
            count=self.count,
            first_step=self.first_step,
            last_step=self.last_step,
            first=self.first,
            last=self.last,
            min=self.min,
            max=self.max,
            integral_steps=self.integral,
            downsample=down,
            chunks=list(chunks),
        )


def _time(value: Any) -> float | None:
    return None if value is None or value != value else float(value)
