"""LightGBM: ``lgb.train`` and the sklearn API (``LGBMClassifier``, ``LGBMRegressor``, ...).

Evaluations are recorded per iteration by a callback added to the ``train``
call (``<valid name>.<metric>``, step = iteration, from 0), so
``valid_0.l2`` matches ``evals_result_`` point for point. Its ``order``
puts it after ``record_evaluation`` and before ``early_stopping``, which
raises on the iteration it stops at. Params: ``lightgbm.<name>`` from
``get_params()`` (None left out), or for ``lgb.train`` the booster's own
``params`` (with ``num_iterations``). With early stopping: metrics
``best_iteration`` (LightGBM counts from 1) and ``best.<valid>.<metric>``.
The model: ``autolog/lightgbm-<Class>.txt`` (``Booster(model_file=...)``
reads it back; the best iteration when early stopping ran).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from gitexp.integrations import boosting, patches, record
from gitexp.integrations.base import Options, version_below

MIN_VERSION = (3, 3)


class LightGBMIntegration:
    name = "lightgbm"
    module = "lightgbm"
    submodules = False

    def unsupported(self, framework: ModuleType) -> str | None:
        return version_below(framework, MIN_VERSION)

    def enable(self, module: ModuleType, options: Options) -> None:
        engine = importlib.import_module("lightgbm.engine")
        sklearn_api = importlib.import_module("lightgbm.sklearn")
        original = engine.train
        wrapper = patches.wrap(engine, "train", boosting.train_wrapper(FRAMEWORK, options))
        if wrapper is not None:
            patches.replace_everywhere([module, sklearn_api], "train", original, wrapper)
        for cls in list(vars(sklearn_api).values()):
            if (
                isinstance(cls, type)
                and issubclass(cls, sklearn_api.LGBMModel)
                and "fit" in vars(cls)
            ):
                patches.wrap(cls, "fit", boosting.fit_wrapper(FRAMEWORK, options))


INTEGRATION = LightGBMIntegration()


class Evaluations:
    """Called by LightGBM after each iteration with its evaluation results."""

    order = 25  # record_evaluation is 20, early_stopping 30
    before_iteration = False

    def __call__(self, env: Any) -> None:
        with record.guarded("lightgbm iterations"):
            latest: dict[str, dict[str, Any]] = {}
            for item in env.evaluation_result_list or ():
                latest.setdefault(item[0], {})[item[1]] = item[2]
            boosting.log_evals(latest, env.iteration)


def _record_best(booster: Any) -> None:
    if booster.best_iteration > 0:
        record.log_metric("best_iteration", booster.best_iteration)
        for data, scores in booster.best_score.items():
            for metric, value in scores.items():
                record.log_metric(f"best.{data}.{metric}", value)


FRAMEWORK = boosting.Framework(
    name="lightgbm",
    callback=Evaluations,
    train_params=lambda call, booster: dict(booster.params),
    booster_of=lambda estimator: estimator.booster_,
    record_best=_record_best,
    save_booster=lambda booster, path: booster.save_model(path),
    save_estimator=lambda estimator, path: estimator.booster_.save_model(path),
    suffix=".txt",
)
