"""The shared shape of the gradient-boosting integrations (XGBoost, LightGBM).

Both have a ``train`` function with a ``callbacks`` argument, and sklearn
estimators whose ``fit`` calls that ``train``. So ``train`` is wrapped only
to add a per-iteration callback (the framework's own mechanism) to the call,
and ``fit`` to record the estimator's params and model around it:

- a bare ``train`` (no autologged call around it) records everything;
- ``train`` inside the framework's own autologged ``fit`` records the
  iterations, the ``fit`` wrapper the rest;
- inside any other autologged call (a scikit-learn search over
  XGBClassifier) nothing is added: the outer call records.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gitexp.integrations import record
from gitexp.integrations.base import Options, current_owner, outermost


@dataclass(frozen=True)
class Framework:
    """What differs between the boosting libraries."""

    name: str  # the params namespace
    callback: Callable[[], Any]  # a fresh per-iteration recorder for one train call
    train_params: Callable[[dict[str, Any], Any], dict[str, Any]]  # (call args, booster)
    booster_of: Callable[[Any], Any]  # a fitted sklearn estimator's booster
    record_best: Callable[[Any], None]  # best iteration and score of a booster
    save_booster: Callable[[Any, str], None]
    save_estimator: Callable[[Any, str], None]
    suffix: str  # of the model file

    @property
    def fit_kind(self) -> str:
        return f"{self.name}.fit"


def train_wrapper(fw: Framework, options: Options) -> Callable[..., Any]:
    def make(train: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if current_owner() == fw.fit_kind:
                return _train_with_callback(fw, train, args, kwargs)[1]
            with outermost(fw.name) as mine:
                if not mine:
                    return train(*args, **kwargs)
                call, booster = _train_with_callback(fw, train, args, kwargs)
                with record.guarded(f"{fw.name}.train"):
                    _record_train(fw, options, call, booster)
                return booster

        return wrapper

    return make


def _train_with_callback(
    fw: Framework, train: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[dict[str, Any], Any]:
    """(the call's arguments by name, train's result), our callback added to the call."""
    try:
        signature = inspect.signature(train)
        bound = signature.bind(*args, **kwargs)
    except (TypeError, ValueError):  # a call the framework itself will refuse
        return {}, train(*args, **kwargs)
    full = signature.bind(*args, **kwargs)
    full.apply_defaults()
    given = dict(full.arguments)  # defaults too (num_boost_round), for the record only
    with record.guarded(f"{fw.name} iterations"):
        existing = bound.arguments.get("callbacks") or []
        bound.arguments["callbacks"] = [*existing, fw.callback()]
    return given, train(*bound.args, **bound.kwargs)


def _record_train(fw: Framework, options: Options, call: dict[str, Any], booster: Any) -> None:
    record.log_params(fw.name, fw.train_params(call, booster))
    fw.record_best(booster)
    if options.log_models and record.in_run():
        name = f"{fw.name}-{type(booster).__name__}{fw.suffix}"
        record.save_artifact(name, lambda path: fw.save_booster(booster, path))


def fit_wrapper(fw: Framework, options: Options) -> Callable[..., Any]:
    def make(fit: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            with outermost(fw.fit_kind) as mine:
                result = fit(self, *args, **kwargs)
                if mine:
                    with record.guarded(f"{fw.name} {type(self).__name__}.fit"):
                        _record_fit(fw, options, self)
                return result

        return wrapper

    return make


def _record_fit(fw: Framework, options: Options, estimator: Any) -> None:
    params = {k: v for k, v in estimator.get_params().items() if v is not None}
    record.log_params(fw.name, params)
    fw.record_best(fw.booster_of(estimator))
    if options.log_models and record.in_run():
        name = f"{fw.name}-{type(estimator).__name__}{fw.suffix}"
        record.save_artifact(name, lambda path: fw.save_estimator(estimator, path))


def log_evals(evals: dict[str, dict[str, Any]], step: int) -> None:
    """``{data: {metric: value}}`` as ``data.metric`` points at ``step``."""
    for data, metrics in evals.items():
        for metric, value in metrics.items():
            record.log_metric(f"{data}.{metric}", value, step)
