"""XGBoost: ``xgb.train`` and the sklearn API (``XGBClassifier``, ``XGBRegressor``, ...).

Evaluations are recorded per iteration by a ``TrainingCallback`` added to
the ``train`` call (``<eval name>.<metric>``, step = iteration, from 0), so
``validation_0.logloss`` matches ``evals_result()`` point for point. Params:
``xgboost.<name>`` from ``get_params()`` (None = XGBoost's default, left
out), or for ``xgb.train`` the params dict with ``num_boost_round`` and
``early_stopping_rounds``. Metrics ``best_iteration`` and ``best_score``
when early stopping ran. The model: ``autolog/xgboost-<Class>.json``
(``save_model``; ``load_model`` reads it back).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from gitexp.integrations import boosting, patches, record
from gitexp.integrations.base import Options, version_below

MIN_VERSION = (1, 6)


class XGBoostIntegration:
    name = "xgboost"
    module = "xgboost"
    submodules = False

    def unsupported(self, framework: ModuleType) -> str | None:
        return version_below(framework, MIN_VERSION)

    def enable(self, module: ModuleType, options: Options) -> None:
        training = importlib.import_module("xgboost.training")
        sklearn_api = importlib.import_module("xgboost.sklearn")
        fw = _framework(importlib.import_module("xgboost.callback"))
        original = training.train
        wrapper = patches.wrap(training, "train", boosting.train_wrapper(fw, options))
        if wrapper is not None:
            patches.replace_everywhere([module, sklearn_api], "train", original, wrapper)
        for cls in list(vars(sklearn_api).values()):
            if (
                isinstance(cls, type)
                and issubclass(cls, sklearn_api.XGBModel)
                and "fit" in vars(cls)
            ):
                patches.wrap(cls, "fit", boosting.fit_wrapper(fw, options))


INTEGRATION = XGBoostIntegration()


def _framework(callbacks: ModuleType) -> boosting.Framework:
    class Evaluations(callbacks.TrainingCallback):  # type: ignore[misc, name-defined]
        """The last value of every evaluation, after each iteration."""

        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            with record.guarded("xgboost iterations"):
                latest = {
                    d: {m: _value(v[-1]) for m, v in ms.items()} for d, ms in evals_log.items()
                }
                boosting.log_evals(latest, epoch)
            return False

    return boosting.Framework(
        name="xgboost",
        callback=Evaluations,
        train_params=_train_params,
        booster_of=lambda estimator: estimator.get_booster(),
        record_best=_record_best,
        save_booster=lambda booster, path: booster.save_model(path),
        save_estimator=lambda estimator, path: estimator.save_model(path),
        suffix=".json",
    )


def _value(point: Any) -> Any:
    return point[0] if isinstance(point, tuple) else point  # (mean, std) in xgb.cv


def _train_params(call: dict[str, Any], booster: Any) -> dict[str, Any]:
    params = dict(call.get("params") or {})
    params["num_boost_round"] = call.get("num_boost_round")
    if call.get("early_stopping_rounds") is not None:
        params["early_stopping_rounds"] = call["early_stopping_rounds"]
    return params


def _record_best(booster: Any) -> None:
    iteration = booster.attr("best_iteration")
    if iteration is not None:
        record.log_metric("best_iteration", int(iteration))
        score = booster.attr("best_score")
        if score is not None:
            record.log_metric("best_score", float(score))
