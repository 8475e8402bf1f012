"""Pruning on live metrics: the runner's ``metric_logged`` events become Optuna's
``trial.report(value, step)``; when ``should_prune()`` says so, the trial's
``RunControl`` stops it and it is recorded `pruned`.

Events are throttled (one per metric per 0.5 s, the last point always), so
a running trial reports some of its steps; once a trial has ended, the driver
reports its whole recorded series (``backfill``), so the curves other trials
are compared against have every step.
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Any

from gitexp.sweeps.trial import TrialRun

log = logging.getLogger(__name__)
PRUNER_NAMES = {"median": "median", "hyperband": "Hyperband", "sha": "successive-halving"}


class Pruning:
    """A bus listener: follows the objective metric of every running trial."""

    def __init__(self, metric: str, pruner: str) -> None:
        self.metric = metric
        self.label = PRUNER_NAMES.get(pruner, pruner)
        self._runs: dict[str, TrialRun] = {}
        self._lock = threading.Lock()

    def follow(self, run: TrialRun) -> None:
        with self._lock:
            self._runs[run.name] = run

    def forget(self, run: TrialRun) -> None:
        with self._lock:
            self._runs.pop(run.name, None)

    def __call__(self, event: str, payload: dict[str, Any]) -> None:
        if payload.get("metric") != self.metric:
            return
        with self._lock:
            run = self._runs.get(str(payload.get("name")))
        step, value = payload.get("step"), payload.get("value")
        if run is None or run.control.stopped or not _usable(step, value):
            return
        at = int(step)  # type: ignore[arg-type]  # _usable: an integral number
        report(run, at, float(value))  # type: ignore[arg-type]
        if run.trial.should_prune():
            run.control.stop("pruned", f"pruned at step {at} by the {self.label} pruner")


def report(run: TrialRun, step: int, value: float) -> None:
    """One intermediate value, once per step (Optuna warns on a repeat)."""
    if step in run.reported:
        return
    run.reported.add(step)
    run.trial.report(value, step)


def backfill(run: TrialRun, series: list[tuple[int, float]]) -> None:
    for step, value in series:
        report(run, step, value)


def _usable(step: Any, value: Any) -> bool:
    if not isinstance(step, int | float) or isinstance(step, bool) or step < 0:
        return False
    if not float(step).is_integer():
        return False
    return isinstance(value, int | float) and math.isfinite(value)
