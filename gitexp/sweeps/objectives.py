"""A trial's objective values, and what it means when the script never logs one.

A trial whose command succeeded but left an objective out of its metrics is
recorded `failed` (the run's verdict). When no trial of the sweep has logged
the objectives yet, that is almost always a misspelled ``--objective``, which
every later trial would repeat: the driver stops the sweep at once with
``ObjectiveNotLoggedError``, naming what the trial did log, rather than
spending the whole budget on failures. Once a trial has logged them, a
trial that leaves one out is that trial's own failure and the sweep goes on.
"""

from __future__ import annotations

import math
from typing import Any

from gitexp.common import suggest
from gitexp.common.errors import GitexpError
from gitexp.common.mappings import flatten
from gitexp.sweeps.spec import SweepSpec

SHOWN = 8  # logged metric names quoted in the error


class ObjectiveNotLoggedError(GitexpError):
    """The first trial ran to the end without logging an objective (exit 1:
    trials ran and were recorded, so it is no usage error)."""

    def __init__(self, sweep: str, trial: str, metric: str, logged: list[str]) -> None:
        did = suggest.hint(metric, logged)
        super().__init__(
            f"sweep {sweep!r} stopped: objective metric {metric!r} was not logged by {trial}; "
            f"{_listed(logged)}",
            f"{did + ' ' if did else ''}--resume cannot change the objective: "
            "start a new sweep with the right --objective",
        )
        self.metric, self.logged = metric, logged


def _listed(names: list[str]) -> str:
    if not names:
        return "it logged no metric"
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return "it logged: " + ", ".join(names[:SHOWN]) + more


def problem(spec: SweepSpec, metrics: dict[str, Any]) -> str | None:
    """Why a run that succeeded still failed as a trial: an objective not logged,
    or not a finite number (the run's verdict, recorded in run.json's ``error``)."""
    flat = flatten(metrics)
    for objective in spec.objectives:
        if finite(flat.get(objective.metric)) is None:
            problem = (
                "was not logged" if objective.metric not in flat
                else f"is {flat[objective.metric]!r}, not a finite number"
            )  # fmt: skip
            return f"objective metric {objective.metric!r} {problem}"
    return None


def unlogged(spec: SweepSpec, metrics: dict[str, Any]) -> str | None:
    """The first objective metric absent from ``metrics`` (a NaN one was logged)."""
    flat = flatten(metrics)
    return next((o.metric for o in spec.objectives if o.metric not in flat), None)


def values(spec: SweepSpec, metrics: dict[str, Any]) -> list[float]:
    """The objective values Optuna is told, in the spec's order."""
    flat = flatten(metrics)
    return [finite(flat.get(o.metric)) or 0.0 for o in spec.objectives]


def logged(metrics: dict[str, Any]) -> list[str]:
    """The metric names a run logged, dotted and sorted."""
    return sorted(flatten(metrics))


def finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
