"""The best trial of a sweep (or its Pareto front) as the driver keeps it.

It counts every trial of the sweep, not only this invocation's: a resumed
sweep starts from the best its study already has, so the closing summary,
``sweep_finished`` and every ``sweep_new_best`` agree with `gitexp sweep
show`, which reads the trials' records. Equal values go to the lower trial
number, as `sweep show` picks them (gitexp/exploring/sweep_groups.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gitexp.sweeps import study as studies
from gitexp.sweeps.spec import SweepSpec


@dataclass
class Best:
    """The best trial so far (single objective) or the Pareto front's names."""

    values: list[float] | None = None
    name: str | None = None
    front: list[str] = field(default_factory=list)
    number: int | None = None  # the best trial's number (single objective)

    def beaten_by(self, value: float, number: int, direction: str) -> bool:
        """Whether trial ``number`` with ``value`` is the new best (one objective)."""
        if self.values is None or self.number is None:
            return True
        best = self.values[0]
        if value == best:
            return number < self.number
        return value > best if direction == "maximize" else value < best


def recorded(study: Any, spec: SweepSpec) -> Best:
    """The best trial (or the front) of the trials the study already has."""
    if len(spec.objectives) > 1:
        return Best(front=sorted(studies.front_names(study)))
    trial = studies.best_trial(study, spec.objectives[0].direction == "maximize")
    if trial is None:
        return Best()
    return Best(list(trial.values), studies.name_of(trial), number=trial.number)
