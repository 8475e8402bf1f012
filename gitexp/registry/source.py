"""Which experiment `gitexp model register --from SPEC` registers.

A name, prefix, ref or commit id is read as everywhere (`store.resolve`).
A sweep's name (``prune/`` or ``prune``) means its best trial: one would
otherwise have to read `gitexp sweep show` and copy the trial's name, and the
best is the one a sweep is run to find. "Best" is what `sweep show`, `show`'s
folded row and the UI say (gitexp/sweeps/results.py, from the trials' own
records). A group that is not a sweep stays ambiguous, as do a multi-objective
sweep's several Pareto-optimal trials: which of them is a person's choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gitexp.common.errors import ExperimentNameError
from gitexp.gitstore import store
from gitexp.gitstore.repo import Repo
from gitexp.registry.errors import RegistryError

if TYPE_CHECKING:
    import pygit2

    from gitexp.sweeps.results import SweepReport

SHOWN = 5


@dataclass(frozen=True)
class Source:
    """The experiment to register; ``picked`` says why it, when SPEC was a sweep."""

    name: str
    commit: pygit2.Oid
    picked: str | None = None


def resolve(repo: Repo, spec: str) -> Source:
    """The experiment ``spec`` names, or the best trial of the sweep it names."""
    try:
        return Source(*store.resolve(repo, spec))
    except ExperimentNameError:
        group = spec.removeprefix(store.REF_PREFIX).rstrip("/")
        if not group or not store.is_group(repo, group):
            raise
        found = _sweep(repo, group)
        if found is None:
            raise
        return _best(repo, found)


def _sweep(repo: Repo, group: str) -> SweepReport | None:
    """The sweep report of ``group``, None when no experiment there is its trial."""
    from gitexp.exploring.readmodel import get_summaries
    from gitexp.sweeps.results import report

    names = sorted(store.under(repo, group + "/"))
    summaries = get_summaries(repo, names)
    if not any(s.sweep == group for s in summaries):
        return None
    return report(repo, group, summaries, importances=False)


def _best(repo: Repo, sweep: SweepReport) -> Source:
    objectives = ", ".join(sweep.objectives) or "no objective recorded"
    names = [t.name for t in sweep.best]
    if len(names) != 1:
        shown = ", ".join(names[:SHOWN]) + (", …" if len(names) > SHOWN else "")
        said = f"{len(names)} best trials ({shown})" if names else "no trial with a result"
        pick = f"name one: `--from {names[0]}`" if names else "name a trial"
        raise RegistryError(
            f"sweep {sweep.name!r} has {said} by {objectives}",
            f"{pick}; `gitexp sweep show {sweep.name}` lists them",
        )
    name, commit = store.resolve(repo, names[0])
    value = _value(sweep, names[0])
    return Source(name, commit, f"best trial of sweep {sweep.name!r} by {objectives}{value}")


def _value(sweep: SweepReport, trial: str) -> str:
    """`` = 0.12`` for one objective's value, as the trial recorded it."""
    from gitexp.common.mappings import flatten

    if len(sweep.objectives) != 1:
        return ""
    metric = sweep.objectives[0].rpartition(":")[0] or sweep.objectives[0]
    found = next((t for t in sweep.trials if t.name == trial), None)
    value = flatten(found.metrics).get(metric) if found is not None else None
    return f" = {value}" if value is not None else ""
