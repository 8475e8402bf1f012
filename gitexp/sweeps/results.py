"""What `gitexp sweep show NAME` reports: trials, best or Pareto front, importances,
storage. Trials and the best come from the experiments (git); the
importances need the Optuna study, and are left out when its storage is not
here (a clone that pulled the trials but not the study)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from gitexp.common.errors import UsageError
from gitexp.exploring.readmodel import ExperimentSummary, list_summaries
from gitexp.exploring.sweep_groups import best_trials, parse_objective, trials_of
from gitexp.gitstore.repo import Repo
from gitexp.sweeps import storage
from gitexp.sweeps.spec import SweepSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepReport:
    name: str
    spec: SweepSpec | None
    storage: str | None
    trials: list[ExperimentSummary]  # by trial number
    best: list[ExperimentSummary]
    importances: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def objectives(self) -> list[str]:
        if self.spec is not None:
            return [o.text for o in self.spec.objectives]
        return next((t.objectives for t in self.trials if t.objectives), [])

    def rows(self) -> list[dict[str, Any]]:
        """Flat rows (as `gitexp show` has them) with a short ``trial`` column."""
        prefix = self.name + "/"
        return [{**t.row(), "trial": t.name.removeprefix(prefix)} for t in self.trials]

    def spec_json(self) -> dict[str, Any] | None:
        from gitexp.sweeps.spec import to_json

        return to_json(self.spec) if self.spec is not None else None

    @property
    def searched(self) -> list[str]:
        """The searched params as run.json names them (no ``file.yaml:``, no ``+``)."""
        keys = self.spec.searched if self.spec is not None else {}
        return [k.rpartition(":")[2].lstrip("+") for k in keys]


def report(
    repo: Repo,
    name: str,
    summaries: list[ExperimentSummary] | None = None,
    importances: bool = True,
) -> SweepReport:
    """The sweep ``name``. ``summaries``: every experiment, when the caller already
    holds them (the UI's table; else they are listed); ``importances=False`` leaves
    Optuna's out: the first computation imports optuna.importance (with scikit-learn
    and SciPy, a second or more), which a page need not wait for."""
    name = name.rstrip("/")
    every = summaries if summaries is not None else list_summaries(repo)
    trials = sorted(trials_of(every, name), key=lambda t: t.trial or 0)
    home = storage.home(repo, name)
    spec = storage.load(home)[0] if home.exists() else None
    if spec is None and not trials:
        known = ", ".join(storage.names(repo)) or "none yet"
        raise UsageError(f"no sweep named {name!r}", f"sweeps here: {known}")
    url = storage.location(home, spec) if spec is not None else None
    objectives = [parse_objective(o) for o in _objectives(spec, trials)]
    best = best_trials(trials, objectives)
    found = _importances(spec, url) if importances else {}
    return SweepReport(name, spec, url, trials, best, found)


def _objectives(spec: SweepSpec | None, trials: list[ExperimentSummary]) -> list[str]:
    if spec is not None:
        return [o.text for o in spec.objectives]
    return next((t.objectives for t in trials if t.objectives), [])


def _importances(spec: SweepSpec | None, url: str | None) -> dict[str, dict[str, float]]:
    """Optuna's parameter importances, when the study can be opened here."""
    if spec is None or url is None:
        return {}
    from gitexp.sweeps import study as studies

    try:
        studies.quiet_optuna()
        import optuna

        study = optuna.load_study(study_name=spec.name, storage=storage.open_storage(url))
        return studies.importances(study)
    except Exception as exc:  # no study there (yet), an unreachable RDB: no importances
        log.info("no importances for sweep %s: %s", spec.name, exc)
        return {}
