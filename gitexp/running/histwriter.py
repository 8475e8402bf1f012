"""Recording metric series with bounded memory: the history writer.

Every source of a run's series (the library's live file, a block at a time;
DVCLive, metrics files and printed lines, as lists) feeds one
``HistoryWriter``. A series starts as a list of points; past
``TSV_MAX_POINTS`` it turns columnar (three ``array`` columns) and every
``CHUNK_POINTS`` points are compressed into a chunk file in a spool folder
on disk, its summary and downsample updated from the same columns. What a
run holds in memory is bounded by ``budget`` bytes whatever it logged: when
the series held pass it, the largest is turned columnar or flushed early.

``finish`` returns the files of ``.gitexp/history/`` (gitexp/gitstore/histfile.py
says what they hold): short series as TSV bytes, long ones as a summary and
chunk files on disk, which recording streams into the object store.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitexp.gitstore import histfile as H
from gitexp.gitstore.histsummary import SummaryBuilder

Number = int | float
POINT_BYTES = 160  # a (step, value, time) tuple in a list, with its objects
COLUMN_BYTES = 24  # one point of three 8-byte columns
BUDGET = 48 << 20


@dataclass
class _Series:
    name: str
    points: list[H.Point] | None = field(default_factory=list)  # None once columnar
    steps: array[Any] = field(default_factory=lambda: array("q"))
    values: array[float] = field(default_factory=lambda: array("d"))
    times: array[float] = field(default_factory=lambda: array("d"))
    chunks: list[tuple[str, int, Path]] = field(default_factory=list)
    summary: SummaryBuilder = field(default_factory=SummaryBuilder)
    last_step: Number | None = None
    last_value: float | None = None

    def held(self) -> int:
        """Bytes this series holds in memory (an estimate)."""
        if self.points is not None:
            return len(self.points) * POINT_BYTES
        return len(self.values) * COLUMN_BYTES


@dataclass(frozen=True)
class WrittenHistory:
    """The files of ``.gitexp/history/``, paths relative to it."""

    files: dict[str, bytes]
    disk: dict[str, Path]


class HistoryWriter:
    """Series in, files out (see the module doc); ``close`` removes the spool."""

    def __init__(
        self,
        spool_parent: Path,
        tsv_max: int = H.TSV_MAX_POINTS,
        chunk_points: int = H.CHUNK_POINTS,
        budget: int = BUDGET,
    ) -> None:
        self.spool_parent = spool_parent
        self.tsv_max, self.chunk_points, self.budget = tsv_max, chunk_points, budget
        self.series: dict[str, _Series] = {}
        self.held = 0  # bytes the series hold, kept up to date
        self.spool: Path | None = None
        self.written = 0

    @property
    def names(self) -> list[str]:
        return list(self.series)

    def last_step(self, name: str) -> Number | None:
        s = self.series.get(name)
        return None if s is None else s.last_step

    def last_value(self, name: str) -> float | None:
        s = self.series.get(name)
        return None if s is None else s.last_value

    def extend(
        self,
        name: str,
        steps: Sequence[Number],
        values: Sequence[float],
        times: Sequence[float | None],
    ) -> None:
        """Append points (steps resolved) to a series, creating it if new."""
        if not values:
            self.series.setdefault(name, _Series(name))
            return
        s = self.series.get(name) or self.series.setdefault(name, _Series(name))
        before = s.held()
        s.last_step, s.last_value = steps[-1], values[-1]
        if s.points is not None and len(s.points) + len(values) <= self.tsv_max:
            s.points.extend(zip(steps, values, times, strict=True))
        else:
            self._columnar(s)
            _append(s, steps, values, times)
            while len(s.values) >= self.chunk_points:
                self._flush(s, self.chunk_points)
        self.held += s.held() - before
        self._within_budget()

    def add_points(self, name: str, points: Sequence[H.Point]) -> None:
        """Points of another source, appended as they are."""
        if not points:
            self.extend(name, [], [], [])
            return
        steps, values, times = zip(*points, strict=True)
        self.extend(name, steps, values, times)

    def replace(self, name: str, points: Sequence[H.Point]) -> None:
        """A series from a source that wins the name (DVCLive over the library)."""
        old = self.series.pop(name, None)
        if old is not None:
            self.held -= old.held()
            for _, _, path in old.chunks:
                path.unlink(missing_ok=True)
        self.add_points(name, points)

    def _columnar(self, s: _Series) -> None:
        if s.points is None:
            return
        points, s.points = s.points, None
        if points:
            _append(s, *zip(*points, strict=True))

    def _within_budget(self) -> None:
        """Past the budget, the series holding most is turned columnar or written."""
        while self.held > self.budget:
            s = max(self.series.values(), key=_Series.held)
            before = s.held()
            if s.points is not None:
                self._columnar(s)
            else:
                self._flush(s, len(s.values))
            self.held += s.held() - before

    def _flush(self, s: _Series, n: int) -> None:
        """Write the first ``n`` buffered points of ``s`` as a chunk file."""
        steps, values, times = s.steps[:n], s.values[:n], s.times[:n]
        del s.steps[:n], s.values[:n], s.times[:n]
        if not len(s.steps):
            s.steps = array("q")  # a chunk after a decimal step may be integral again
        kind = "i8" if steps.typecode == "q" else "f8"
        s.summary.add(steps, values, times, integral=kind == "i8")
        if self.spool is None:
            self.spool_parent.mkdir(parents=True, exist_ok=True)
            self.spool = Path(tempfile.mkdtemp(prefix="history-", dir=self.spool_parent))
        path = self.spool / f"{self.written:08d}"
        self.written += 1
        path.write_bytes(H.encode_chunk(steps, values, times))
        s.chunks.append((H.chunk_name(len(s.chunks), kind), n, path))

    def finish(self) -> WrittenHistory:
        """Every series as history files (the last chunks written now)."""
        files: dict[str, bytes] = {}
        disk: dict[str, Path] = {}
        for name, s in self.series.items():
            base = H.metric_path(name)
            if s.points is not None:
                files[base + H.TSV] = H.tsv_bytes(s.points)
                continue
            if len(s.values):
                self._flush(s, len(s.values))
            folder = base + H.FOLDER
            summary = s.summary.result([(chunk, n) for chunk, n, _ in s.chunks])
            files[f"{folder}/{H.SUMMARY}"] = summary.to_json()
            disk.update({f"{folder}/{chunk}": path for chunk, _, path in s.chunks})
        return WrittenHistory(files, disk)

    def close(self) -> None:
        if self.spool is not None:
            shutil.rmtree(self.spool, ignore_errors=True)
            self.spool = None


def _append(
    s: _Series, steps: Sequence[Number], values: Sequence[float], times: Sequence[float | None]
) -> None:
    """Points onto the columns; the step column turns float64 for a decimal step
    (or an integer beyond int64) and stays so until the chunk is written."""
    if s.steps.typecode == "q":
        try:
            s.steps.extend(steps if isinstance(steps, array) else array("q", steps))
        except (TypeError, OverflowError):
            s.steps = array("d", s.steps)
    if s.steps.typecode == "d":
        s.steps.extend(_floats(steps))
    s.values.extend(values if isinstance(values, array) else array("d", values))
    s.times.extend(times if isinstance(times, array) else _floats(times))


def _floats(items: Sequence[Number | None]) -> array[float]:
    return array("d", (math.nan if x is None else float(x) for x in items))
