"""The Optuna side of a sweep: samplers, pruners, the study, and its bookkeeping.

Optuna is imported here (and only inside functions): `import gitexp` and
`gitexp run` never load it. A trial's fate is told to Optuna with the
gitexp status kept in the user attribute ``gitexp_status`` (succeeded,
failed, pruned, interrupted) and the experiment in ``gitexp_name``:
Optuna's FAIL covers both a failed and an interrupted trial, and only the
interrupted ones are run again on ``--resume``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from gitexp.common.errors import ConfigError, UsageError
from gitexp.sweeps import space as spaces
from gitexp.sweeps.spec import Choice, SweepSpec

log = logging.getLogger(__name__)

STATUS_ATTR = "gitexp_status"
NAME_ATTR = "gitexp_name"
RETRY_ATTR = "gitexp_retry_of"
REASON_ATTR = "gitexp_reason"


def quiet_optuna() -> None:
    """Optuna logs every trial at INFO; gitexp reports trials itself."""
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def make_sampler(spec: SweepSpec, seed: int | None) -> Any:
    """Optuna's sampler for ``spec.sampler``, seeded (a resumed sweep gets a seed
    moved on by the trials it has, so it does not draw the same points again)."""
    import optuna.samplers as s

    name, options = spec.sampler.name, dict(spec.sampler.options)
    if name == "grid":
        return _grid_sampler(spaces.grid_space(spec.searched), seed, options)
    classes = {
        "random": s.RandomSampler,
        "tpe": s.TPESampler,
        "cmaes": s.CmaEsSampler,
        "qmc": s.QMCSampler,
        "nsga2": s.NSGAIISampler,
    }
    return _construct(classes[name], {"seed": seed, **options}, spec.sampler)


def _grid_sampler(grid: dict[str, Any], seed: int | None, options: dict[str, Any]) -> Any:
    """Optuna's GridSampler, without its call to ``study.stop()`` once the grid is
    covered (that works only inside ``optimize``): the driver counts the grid."""
    from optuna.samplers import GridSampler

    class Grid(GridSampler):
        def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
            return None

    return _construct(Grid, {"search_space": grid, "seed": seed, **options}, Choice("grid"))


def make_pruner(choice: Choice) -> Any:
    import optuna.pruners as p

    classes = {
        "none": p.NopPruner,
        "median": p.MedianPruner,
        "hyperband": p.HyperbandPruner,
        "sha": p.SuccessiveHalvingPruner,
    }
    return _construct(classes[choice.name], dict(choice.options), choice)


def _construct(cls: Any, kwargs: dict[str, Any], choice: Choice) -> Any:
    """Options from the sweep file go to Optuna's class; a wrong one is one line."""
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"cannot set up the {choice.name} {cls.__name__}: {exc}") from exc
    except ImportError as exc:
        raise UsageError(
            f"the {choice.name} sampler needs a package that is missing: {exc.name}",
            f"pip install {exc.name}",
        ) from exc


def directions(spec: SweepSpec) -> list[str]:
    return [o.direction for o in spec.objectives]


def open_study(spec: SweepSpec, storage: Any, seed: int | None, create: bool) -> Any:
    """Create the study (a new sweep) or load it (``--resume``), with fresh sampler
    and pruner objects: Optuna stores neither."""
    import optuna

    sampler, pruner = make_sampler(spec, seed), make_pruner(spec.pruner)
    if create:
        study = optuna.create_study(
            storage=storage,
            study_name=spec.name,
            directions=directions(spec),  # type: ignore[arg-type]
            sampler=sampler,
            pruner=pruner,
        )
        study.set_metric_names([o.metric for o in spec.objectives])  # the dashboard's labels
        return study
    try:
        return optuna.load_study(
            study_name=spec.name, storage=storage, sampler=sampler, pruner=pruner
        )
    except KeyError as exc:
        raise UsageError(f"sweep {spec.name!r} has no Optuna study in its storage") from exc


def study_exists(spec: SweepSpec, storage: Any) -> bool:
    import optuna

    try:
        summaries = optuna.get_all_study_summaries(storage, include_best_trial=False)
    except Exception:  # an unreachable RDB says so when the study is opened
        return False
    return any(s.study_name == spec.name for s in summaries)


def front_names(study: Any) -> list[str]:
    """The experiments of the best trials: the best one, or the Pareto front."""
    return [name_of(t) for t in study.best_trials]


def name_of(trial: Any) -> str:
    """The experiment of a trial (its number when the name was never set)."""
    return str(trial.user_attrs.get(NAME_ATTR) or trial.number)


def best_trial(study: Any, maximize: bool) -> Any | None:
    """The best complete trial of a single-objective study (a tie: the lower
    number, as `gitexp sweep show` picks it); None before one completed."""
    from optuna.trial import TrialState

    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    sign = -1.0 if maximize else 1.0
    return min(done, key=lambda t: (sign * float(t.value), t.number), default=None)


def scored(study: Any) -> bool:
    """Whether a trial of the study has logged its objectives (completed or pruned)."""
    from optuna.trial import TrialState

    states = (TrialState.COMPLETE, TrialState.PRUNED)
    return bool(study.get_trials(deepcopy=False, states=states))


def status_of(trial: Any) -> str:
    """The gitexp status of a finished Optuna trial."""
    from optuna.trial import TrialState

    attr = trial.user_attrs.get(STATUS_ATTR)
    if isinstance(attr, str):
        return attr
    return {TrialState.COMPLETE: "succeeded", TrialState.PRUNED: "pruned"}.get(
        trial.state, "failed" if trial.state == TrialState.FAIL else "running"
    )


def counted(trials: list[Any]) -> int:
    """Trials that used up budget: finished, and not interrupted."""
    return sum(1 for t in trials if t.state.is_finished() and status_of(t) != "interrupted")


def recover(study: Any) -> list[int]:
    """On resume: trials a killed driver left RUNNING become interrupted, and every
    interrupted trial not yet retried is queued again (same params, a new number).
    Returns the numbers queued again."""
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study._storage.set_trial_user_attr(trial._trial_id, STATUS_ATTR, "interrupted")
        study.tell(trial.number, state=TrialState.FAIL)
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get(RETRY_ATTR) for t in trials}
    again = [
        t for t in trials
        if t.state == TrialState.FAIL and status_of(t) == "interrupted" and t.number not in retried
    ]  # fmt: skip
    for t in again:
        study.enqueue_trial(t.params, user_attrs={RETRY_ATTR: t.number})
    return [t.number for t in again]


def grid_left(spec: SweepSpec, trials: list[Any]) -> int | None:
    """Grid points no counted trial has covered (None: not a grid sweep)."""
    if spec.sampler.name != "grid":
        return None
    import itertools

    grid = spaces.grid_space(spec.searched)
    keys = sorted(grid)
    points = {
        tuple(_key(v) for v in combo) for combo in itertools.product(*(grid[k] for k in keys))
    }
    done = {
        tuple(_key(t.params.get(k)) for k in keys)
        for t in trials
        if t.state.is_finished() and status_of(t) != "interrupted"
    }
    return len(points - done)


def _key(value: Any) -> Any:
    return round(value, 9) if isinstance(value, float) else value


def importances(study: Any) -> dict[str, dict[str, float]]:
    """Optuna's parameter importances for each objective ({} when too few trials)."""
    import warnings

    import optuna

    out: dict[str, dict[str, float]] = {}
    names = study.metric_names or [f"objective {i}" for i in range(len(study.directions))]
    for i, name in enumerate(names):
        maximize = study.directions[i] == optuna.study.StudyDirection.MAXIMIZE
        target = _value_of(i, -1.0 if maximize else 1.0) if len(names) > 1 else None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # about the target's direction: handled here
                found = optuna.importance.get_param_importances(study, target=target)
        except Exception as exc:  # too few complete trials, a single point, ...
            log.debug("no importances for %s: %s", name, exc)
            continue
        out[name] = {k: float(v) for k, v in found.items()}
    return out


def _value_of(index: int, sign: float) -> Callable[[Any], float]:
    """One objective's value, as minimised (the evaluators rank low values best)."""
    return lambda trial: sign * float(trial.values[index])
