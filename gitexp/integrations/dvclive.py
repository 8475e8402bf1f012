"""What a script written for DVCLive logged, read from its files after the run.

DVCLive (``Live()``) keeps everything in one folder, ``dvclive/`` unless the
script says ``Live(dir=...)``:

- ``plots/metrics/<name>.tsv``: one row per ``log_metric``, columns
  ``[timestamp] step <last part of the name>`` (a name ``train/loss`` is the
  file ``train/loss.tsv``); these series become gitexp history, steps kept;
- ``metrics.json``: the latest value of each metric, nested by ``/``, and the
  last ``step`` (not a metric); it gives final values, also of metrics
  logged with ``plot=False``;
- ``params.yaml``: ``log_param(s)``; these become gitexp params.

A folder is DVCLive's when it holds ``plots/metrics/``, or when it is named
``dvclive`` and holds ``metrics.json`` or ``params.yaml``. Folders are looked
for anywhere in the run dir (hidden ones and symlinks aside), and only files
written while the command ran count: DVCLive output committed with the code
is the last run's, not this one's. The run started when the runner wrote
``.gitexp/params.json``; files no newer than that came with the snapshot.
Nothing here imports DVCLive; reading never fails a run (a bad file is one
warning). gitexp/running/metrics.py decides where DVCLive ranks.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gitexp.common.layout import PARAMS_JSON

DEFAULT_DIR = "dvclive"
PLOTS = ("plots", "metrics")
SKIPPED_DIRS = frozenset({"node_modules", "__pycache__"})
Point = tuple[int | float, float, float | None]  # step, value, unix time


@dataclass
class Logged:
    """What DVCLive logged: final values and series by metric name, params, problems."""

    final: dict[str, float] = field(default_factory=dict)
    series: dict[str, list[Point]] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def read(run_dir: Path) -> Logged:
    """Everything the run's DVCLive folders hold (later folders win a name).

    Recording asks twice (metrics, then params): one look at the run dir per
    run, as long as the caller leaves the answer unchanged.
    """
    return _read(run_dir, _started(run_dir))


@functools.lru_cache(maxsize=8)
def _read(run_dir: Path, since: int) -> Logged:
    logged = Logged()
    for folder in find_folders(run_dir):
        rel = folder.relative_to(run_dir).as_posix()
        try:
            _read_folder(folder, since, logged)
        except (OSError, ValueError, UnicodeDecodeError, yaml.YAMLError) as exc:
            logged.warnings.append(f"DVCLive folder {rel} cannot be read: {exc}")
    return logged


def find_folders(run_dir: Path) -> Iterator[Path]:
    """DVCLive folders below ``run_dir``, in a stable order; none is searched inside."""
    for dirpath, dirnames, filenames in os.walk(run_dir):
        here = Path(dirpath)
        if here != run_dir and _is_dvclive(here, dirnames, filenames):
            dirnames[:] = []
            yield here
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIPPED_DIRS)


def _is_dvclive(here: Path, dirnames: list[str], filenames: list[str]) -> bool:
    if PLOTS[0] in dirnames and (here / PLOTS[0] / PLOTS[1]).is_dir():
        return True
    return here.name == DEFAULT_DIR and bool({"metrics.json", "params.yaml"} & set(filenames))


def _started(run_dir: Path) -> int:
    """When the command started (ns), from the params file the runner wrote just before."""
    try:
        return (run_dir / PARAMS_JSON).stat().st_mtime_ns
    except OSError:
        return 0


def _fresh(path: Path, since: int) -> bool:
    try:
        return path.is_file() and path.stat().st_mtime_ns > since
    except OSError:
        return False


def _read_folder(folder: Path, since: int, logged: Logged) -> None:
    plots = folder.joinpath(*PLOTS)
    for tsv in sorted(plots.rglob("*.tsv")) if plots.is_dir() else []:
        if _fresh(tsv, since):
            name = tsv.relative_to(plots).with_suffix("").as_posix()
            points = series(tsv.read_text(encoding="utf-8"))
            if points:
                logged.series[name] = points
                logged.final[name] = points[-1][1]
    if _fresh(folder / "metrics.json", since):
        summary = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
        logged.final.update(finals(summary))
    if _fresh(folder / "params.yaml", since):
        params = yaml.safe_load((folder / "params.yaml").read_text(encoding="utf-8"))
        if isinstance(params, dict):
            logged.params.update(params)


def series(text: str) -> list[Point]:
    """The points of one ``plots/metrics`` file; rows without a number are skipped."""
    reader = csv.DictReader(io.StringIO(text), delimiter="\t")
    columns = [c for c in reader.fieldnames or [] if c not in ("step", "timestamp")]
    if len(columns) != 1:
        return []
    points: list[Point] = []
    for i, row in enumerate(reader):
        value, step = _number(row.get(columns[0])), _number(row.get("step"))
        if value is None:
            continue
        stamp = _number(row.get("timestamp"))
        step = i if step is None else int(step) if float(step).is_integer() else step
        points.append((step, value, None if stamp is None else stamp / 1000))
    return points


def finals(summary: Any, prefix: str = "") -> dict[str, float]:
    """``metrics.json`` as ``{name: value}``, names joined by ``/`` as DVCLive logged them."""
    out: dict[str, float] = {}
    if not isinstance(summary, dict):
        return out
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(finals(value, name + "/"))
        elif name != "step" and (number := _number(value)) is not None:
            out[name] = number
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
