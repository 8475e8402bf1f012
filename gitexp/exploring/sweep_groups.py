"""Sweeps in the read model: trials grouped by sweep, and the best of each.

`gitexp show` and the web UI's table fold each sweep's trials into one row
(``fold``); `gitexp sweep show`, a ``NAME/`` prefix and a filter on ``sweep``
list them. The best trial, or the Pareto
front of a multi-objective sweep, is computed from the trials' own records
(their metrics and the ``sweep_objectives`` run.json keeps), so it needs
neither Optuna nor the study's storage: git stays the source of truth.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gitexp.common.mappings import flatten
from gitexp.exploring.summaries import ExperimentSummary
from gitexp.gitstore import store
from gitexp.gitstore.repo import Repo

Objective = tuple[str, str]  # metric, "min" or "max"
_ON_SWEEP = re.compile(r"\s*sweep\s*[=!<>~]")


@dataclass(frozen=True)
class SweepGroup:
    """One sweep's trials, newest first, with what its one summary row shows."""

    name: str
    trials: list[ExperimentSummary]

    @property
    def objectives(self) -> list[Objective]:
        found = next((t.objectives for t in self.trials if t.objectives), [])
        return [parse_objective(o) for o in found]

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(t.status for t in self.trials))

    def best(self) -> list[ExperimentSummary]:
        return best_trials(self.trials, self.objectives)

    def row(self) -> dict[str, Any]:
        """The folded row: the best trial's params and metrics under ``NAME/``."""
        best = self.best()
        row = best[0].row() if best else {}
        row.update(
            name=self.name + "/",
            commit=None,
            created=self.trials[0].created,
            status=f"sweep, {len(self.trials)} trials",
            sweep=self.name,
            best=best[0].name if best else None,
        )
        return row

    def to_json(self) -> dict[str, Any]:
        best = self.best()
        return {
            "name": self.name + "/",
            "ref": store.REF_PREFIX + self.name + "/",
            "sweep": self.name,
            "trials": len(self.trials),
            "statuses": self.counts,
            "objectives": [f"{m}:{d}" for m, d in self.objectives],
            "best": [t.to_json() for t in best],
        }


def parse_objective(text: str) -> Objective:
    metric, _, direction = text.rpartition(":")
    return (metric, "max" if direction.startswith("max") else "min") if metric else (text, "min")


def split(summaries: list[ExperimentSummary]) -> tuple[list[ExperimentSummary], list[SweepGroup]]:
    """(experiments that are no trial, one group per sweep), order kept."""
    plain: list[ExperimentSummary] = []
    groups: dict[str, list[ExperimentSummary]] = {}
    for s in summaries:
        if s.sweep is None:
            plain.append(s)
        else:
            groups.setdefault(s.sweep, []).append(s)
    return plain, [SweepGroup(name, trials) for name, trials in groups.items()]


def fold(summaries: list[ExperimentSummary]) -> list[ExperimentSummary | SweepGroup]:
    """What a folded table lists, order kept: each sweep as one group where its
    first (in a newest-first list: newest) trial is, other experiments as they are.
    `gitexp show` and the web UI's table fold with this one rule."""
    if all(s.sweep is None for s in summaries):
        return list(summaries)
    by_sweep = {g.name: g for g in split(summaries)[1]}
    items: list[ExperimentSummary | SweepGroup] = []
    for s in summaries:
        if s.sweep is None:
            items.append(s)
        elif s.sweep in by_sweep:
            items.append(by_sweep.pop(s.sweep))
    return items


def check_group(repo: Repo, group: str) -> None:
    """Refuse a ``NAME/`` listing that holds no experiment, as an unknown name is
    refused, with a did-you-mean among the folders there are (a sweep, a group);
    every ref is read only then."""
    if store.is_group(repo, group):
        return
    from gitexp.common import suggest
    from gitexp.common.errors import ExperimentNameError

    folders = {
        n.rsplit("/", i)[0] for n in store.ref_targets(repo) for i in range(1, n.count("/") + 1)
    }
    close = suggest.hint(group.rstrip("/"), folders, "did you mean `gitexp show {}/`?")
    raise ExperimentNameError(
        f"no experiment matches {group!r}", close or "list them with `gitexp show`"
    )


def filters_on_sweep(filters: Iterable[str]) -> bool:
    """A filter on ``sweep`` lists trials: folded, it would match nothing."""
    return any(_ON_SWEEP.match(f) for f in filters)


def trials_of(summaries: list[ExperimentSummary], sweep: str) -> list[ExperimentSummary]:
    return [s for s in summaries if s.sweep == sweep]


def best_trials(
    trials: list[ExperimentSummary], objectives: list[Objective]
) -> list[ExperimentSummary]:
    """The best succeeded trial (one objective) or the Pareto front (several)."""
    scored = [(t, v) for t in trials if (v := _values(t, objectives)) is not None]
    if not scored:
        return []
    if len(objectives) == 1:
        best = min(scored, key=lambda tv: tv[1][0])
        return [best[0]]
    front = [t for t, v in scored if not any(_dominates(w, v) for _, w in scored)]
    return sorted(front, key=lambda t: t.trial or 0)


def _values(trial: ExperimentSummary, objectives: list[Objective]) -> list[float] | None:
    """The trial's objective values, as minimised (a maximised one negated)."""
    if trial.status != "succeeded" or not objectives:
        return None
    metrics = flatten(trial.metrics)
    out = []
    for metric, direction in objectives:
        value = metrics.get(metric)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        out.append(-float(value) if direction == "max" else float(value))
    return out


def _dominates(a: list[float], b: list[float]) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True)) and a != b
