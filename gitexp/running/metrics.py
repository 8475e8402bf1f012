"""Collect a run's metrics from its four sources into final values and series.

Sources: the tracking library's live file, DVCLive's folders
(gitexp/integrations/dvclive.py), metrics files the script writes
(JSON/YAML final values, CSV/TSV series), and output lines matched by
configured patterns. Metrics files named in gitexp.yaml win over DVCLive's,
DVCLive's over the library, all over printed lines (see ``collect``).
Series go into a ``HistoryWriter`` (gitexp/running/histwriter.py) as they
are read, so memory stays bounded however many points the script logged.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gitexp.common.layout import META_DIR
from gitexp.common.mappings import flatten, unflatten
from gitexp.config.settings import Config
from gitexp.gitstore.histfile import metric_path
from gitexp.integrations import dvclive
from gitexp.running.confine import inside
from gitexp.running.follow import HistoryFollower, LiveReader, feed
from gitexp.running.histwriter import HistoryWriter
from gitexp.tracking.wire import LIVE_DIR, METRICS_FILE, PARAMS_FILE, parse_step

__all__ = ["Collected", "collect", "metric_path", "parse_output", "read_live"]
Point = tuple[int | float, float, float | None]  # step, value, unix time


@dataclass
class Collected:
    """Final values (flat, dotted names) and the series, in a history writer."""

    history: HistoryWriter
    final: dict[str, Any] = field(default_factory=dict)

    def add_series(self, name: str, points: list[Point]) -> None:
        if points:
            self.history.add_points(name, points)
            self.final[name] = points[-1][1]

    def nested(self) -> dict[str, Any]:
        return unflatten(self.final)


def read_live(run_dir: Path, history: HistoryWriter, reader: LiveReader | None = None) -> None:
    """Series logged through the library into ``history``, a block at a time, from
    where ``reader`` stopped (a follower that read them while the command ran);
    a missing step continues the series.

    Malformed lines (cut short by a kill or a full disk) are skipped: recording
    never fails because of what the script wrote.
    """
    reader = reader or LiveReader(run_dir / LIVE_DIR / METRICS_FILE)
    reader.read(lambda block: feed(history, block))


def following(run_dir: Path) -> HistoryFollower:
    """Start reading the library's series into a history writer while the command runs."""
    path = run_dir / LIVE_DIR / METRICS_FILE
    return HistoryFollower(path, HistoryWriter(run_dir / META_DIR)).start()


def read_logged_params(run_dir: Path) -> dict[str, Any]:
    """Params the script logged: the library's, then DVCLive's ``params.yaml`` over them."""
    path = run_dir / LIVE_DIR / PARAMS_FILE
    out: dict[str, Any] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                out.update(json.loads(line))
            except ValueError:
                continue
    out.update(dvclive.read(run_dir).params)
    return out


def read_metrics_file(path: Path) -> tuple[dict[str, Any], dict[str, list[Point]]]:
    """(final values, series) of one metrics file the script wrote."""
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".csv", ".tsv"):
        return {}, _table_series(text, "\t" if path.suffix == ".tsv" else ",")
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if not isinstance(data, dict):
        return {}, {}
    return {k: v for k, v in flatten(data).items() if _is_number(v)}, {}


def _table_series(text: str, delimiter: str) -> dict[str, list[Point]]:
    rows = list(csv.DictReader(io.StringIO(text), delimiter=delimiter))
    series: dict[str, list[Point]] = {}
    for i, row in enumerate(rows):
        step = _table_step(row.get("step"), i)
        for key, value in row.items():
            if key in ("step", "time", "timestamp") or key is None:
                continue
            number = _float(value)
            if number is not None:
                series.setdefault(key, []).append((step, number, None))
    return series


def parse_output(lines: Iterable[str], patterns: Iterable[str]) -> dict[str, list[Point]]:
    """Series from printed lines such as `loss: 0.3` or `acc=0.9`."""
    compiled = [re.compile(p) for p in patterns]
    series: dict[str, list[Point]] = {}
    for line in lines:
        for rx in compiled:
            m = rx.search(line)
            if m and m.group("name") and _float(m.group("value")) is not None:
                points = series.setdefault(m.group("name"), [])
                points.append((len(points), float(m.group("value")), None))
                break
    return series


def collect(
    run_dir: Path,
    metrics_files: Iterable[str],
    output: str,
    patterns: Iterable[str],
    succeeded: bool = True,
    follower: HistoryFollower | None = None,
) -> tuple[Collected, list[str]]:
    """All sources combined, and warnings about metrics files.

    Precision decides who wins a name: files (full precision, written last:
    metrics files named in gitexp.yaml, then DVCLive's, whose series replace
    the library's of the same name) over the library's values, and all over
    printed lines, which are often rounded; a printed series is kept only for
    names no other source gave. A file missing after a failed run is
    expected, so it is reported only when the run succeeded. The library's
    series continue from what ``follower`` read while the command ran, when
    that still stands (gitexp/running/follow.py).
    """
    if follower is not None and follower.trusted():
        history, reader = follower.writer, follower.reader
    else:
        if follower is not None:
            follower.writer.close()
        history, reader = HistoryWriter(run_dir / META_DIR), None
    out, warnings = Collected(history), []
    read_live(run_dir, history, reader)
    for name in out.history.names:
        out.final[name] = out.history.last_value(name)
    warnings += _add_dvclive(out, run_dir)
    for rel in metrics_files:
        path = run_dir / rel
        if not inside(run_dir, rel):  # a symlink of the (maybe pulled) tree
            warnings.append(f"metrics file {rel} leads outside the run directory: not read")
            continue
        if not path.exists():
            if succeeded:
                warnings.append(f"metrics file {rel} was not written")
            continue
        try:
            final, series = read_metrics_file(path)
        except (ValueError, yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
            warnings.append(f"metrics file {rel} cannot be read: {exc}")
            continue
        for name, points in series.items():
            out.add_series(name, points)
        out.final.update(final)
    if patterns:
        for name, points in parse_output(output.splitlines(), patterns).items():
            if name not in out.final and name not in out.history.series:
                out.add_series(name, points)
    return out, warnings


def _add_dvclive(out: Collected, run_dir: Path) -> list[str]:
    """DVCLive's series and final values over the library's; its warnings."""
    logged = dvclive.read(run_dir)
    for name, points in logged.series.items():
        out.history.replace(name, list(points))
    out.final.update(logged.final)
    return list(logged.warnings)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _table_step(value: Any, default: int) -> int | float:
    try:
        step = parse_step(str(value).strip()) if value is not None else None
    except ValueError:
        step = None
    return default if step is None else step


def no_metrics_hint(status: str, collected: Collected, config: Config) -> list[str]:
    """A succeeded run that recorded no metric says, once, how to capture them."""
    if status != "succeeded" or collected.final:
        return []
    sources = [
        "call gitexp.log_metric() in the script",
        "list the files it writes under `metrics:` in gitexp.yaml",
    ]
    if not config.output_patterns:
        sources.append("set `metrics_from_output: true` to read printed `name: value` lines")
    else:  # it prints, but not as `name: value` (`epoch 3 loss 0.58`)
        sources.append(
            "add a regex for the lines it prints to `metrics_from_output:` in gitexp.yaml "
            "(keep `default` in that list to read `name: value` lines too)"
        )
    return [NO_METRICS + "; to capture them, " + ", or ".join(sources)]


NO_METRICS = "no metrics were recorded"
#: an in-process run's version: its code is at hand, gitexp.yaml is not the way
NO_METRICS_IN_PROCESS = (
    NO_METRICS + "; call gitexp.log_metric(name, value) inside the run to capture them"
)
