"""scikit-learn: ``fit`` of estimators, pipelines and hyperparameter searches.

scikit-learn has no callback mechanism, so ``fit`` is wrapped, class by
class, as each ``sklearn.*`` module finishes importing (only the modules the
script imports; nothing is imported for it). The outermost fit records:

- params ``sklearn.<name>`` from ``get_params()`` (deep: a pipeline's
  ``sklearn.clf__C``);
- metric ``training.score``: ``estimator.score(X, y)`` on the training data
  (supervised fits of estimators that have ``score``);
- the fitted estimator, pickled, as ``autolog/sklearn-<Class>.pkl``;
- searches (``GridSearchCV``, ``RandomizedSearchCV``, any ``BaseSearchCV``):
  their own params, ``sklearn.best.<name>`` for ``best_params_``, metric
  ``best_cv_score``, and ``cv_results_`` as ``autolog/sklearn-<Class>-cv_results.csv``.

Fits inside it (a pipeline's steps, a search's candidates) are not recorded.
"""

from __future__ import annotations

import csv
import pickle
from collections.abc import Callable
from types import FunctionType, ModuleType
from typing import Any

from gitexp.integrations import patches, record
from gitexp.integrations.base import Options, outermost, version_below

MIN_VERSION = (1, 0)


class SklearnIntegration:
    name = "sklearn"
    module = "sklearn"
    submodules = True

    def unsupported(self, framework: ModuleType) -> str | None:
        return version_below(framework, MIN_VERSION)

    def enable(self, module: ModuleType, options: Options) -> None:
        """Wrap ``fit`` of every estimator class this module defines."""
        base = _base_estimator()
        if base is None:
            return
        for cls in list(vars(module).values()):
            if _defines_fit(cls, base, module.__name__):
                patches.wrap(cls, "fit", lambda fit: _fit_wrapper(fit, options))


INTEGRATION = SklearnIntegration()


def _base_estimator() -> type | None:
    import sys

    base = sys.modules.get("sklearn.base")
    found = getattr(base, "BaseEstimator", None)
    return found if isinstance(found, type) else None


def _defines_fit(cls: Any, base: type, module_name: str) -> bool:
    return (
        isinstance(cls, type)
        and getattr(cls, "__module__", None) == module_name
        and issubclass(cls, base)
        and isinstance(vars(cls).get("fit"), FunctionType)  # not a descriptor
    )


def _fit_wrapper(fit: Callable[..., Any], options: Options) -> Callable[..., Any]:
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with outermost("sklearn") as mine:
            if not mine:
                return fit(self, *args, **kwargs)
            result = fit(self, *args, **kwargs)
            with record.guarded(f"scikit-learn {type(self).__name__}.fit"):
                _record(self, args, kwargs, options)
            return result

    return wrapper


def _record(
    estimator: Any, args: tuple[Any, ...], kwargs: dict[str, Any], options: Options
) -> None:
    search = hasattr(estimator, "cv_results_")
    record.log_params("sklearn", estimator.get_params(deep=not search))
    if search:
        _record_search(estimator)
    if not record.in_run():
        return
    x = args[0] if args else kwargs.get("X")
    y = args[1] if len(args) > 1 else kwargs.get("y")
    refit = not search or bool(getattr(estimator, "refit", True))
    if y is not None and refit and hasattr(estimator, "score"):
        with record.guarded("the training score"):
            record.log_metric("training.score", estimator.score(x, y))
    if options.log_models:
        name = f"sklearn-{type(estimator).__name__}.pkl"
        record.save_artifact(name, lambda path: _pickle(estimator, path))


def _record_search(search: Any) -> None:
    best = getattr(search, "best_params_", None)
    if isinstance(best, dict):
        record.log_params("sklearn.best", best)
    if hasattr(search, "best_score_"):
        record.log_metric("best_cv_score", search.best_score_)
    if record.in_run():
        name = f"sklearn-{type(search).__name__}-cv_results.csv"
        record.save_artifact(name, lambda path: write_table(search.cv_results_, path))


def write_table(results: dict[str, Any], path: str) -> None:
    """``cv_results_`` as CSV: one row per candidate (``params`` is in the
    ``param_*`` columns already; a masked cell, a param the candidate lacks, is empty)."""
    columns = [c for c in results if c != "params"]
    rows = len(results["params"])
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for i in range(rows):
            writer.writerow([_cell(results[c], i) for c in columns])


def _cell(column: Any, i: int) -> Any:
    mask = getattr(column, "mask", None)
    if mask is not None and bool(_at(mask, i)):
        return ""
    value = _at(column, i)
    return record.plain(value)


def _at(column: Any, i: int) -> Any:
    try:
        return column[i]
    except (IndexError, TypeError):  # a scalar mask (nomask)
        return column


def _pickle(estimator: Any, path: str) -> None:
    with open(path, "wb") as f:
        pickle.dump(estimator, f, protocol=pickle.HIGHEST_PROTOCOL)
