"""Train a proton-vs-iron classifier on synthetic air showers, tracked by gitexp.

Run it through ``gitexp run`` (see gitexp.yaml) so every run becomes a commit
with its params and metrics, or run ``python train.py`` directly: outside a
run gitexp.params() falls back to params.yaml.
"""

from __future__ import annotations

import json
import pickle
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from generate import make_showers
from sklearn.base import ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import gitexp

# Relative to the working directory: gitexp runs the command from the project
# root and reads the paths gitexp.yaml declares from there.
METRICS_PATH = Path("metrics.json")
MODEL_PATH = Path("model.pkl")

DEFAULTS: dict[str, dict[str, Any]] = {
    "data": {"n_samples": 4000, "test_size": 0.25, "noise": 1.0, "seed": 7},
    "model": {"type": "gbt", "max_depth": 3, "n_estimators": 200, "learning_rate": 0.1, "C": 1.0},
}
RF_CURVE_POINTS = 5
"""How many forest sizes to score on the way up; each one costs a refit of the new trees only."""

PROBA_EPS = float(np.finfo(np.float64).eps)

Split = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
Curve = Iterator[tuple[int, dict[str, float]]]


def load_params() -> dict[str, dict[str, Any]]:
    """Merge gitexp's params over the defaults, so a trimmed params.yaml still runs."""
    given: Mapping[str, Any] = gitexp.params() or {}
    return {
        section: {**defaults, **(given.get(section) or {})}
        for section, defaults in DEFAULTS.items()
    }


def make_split(data: Mapping[str, Any]) -> Split:
    """Simulate showers and split them with the *data* seed.

    Keeping the split independent of the run seed means every run in a study
    is scored on the same validation showers.
    """
    X, y = make_showers(int(data["n_samples"]), float(data["noise"]), int(data["seed"]))
    X_tr, X_va, y_tr, y_va = train_test_split(
        X, y, test_size=float(data["test_size"]), stratify=y, random_state=int(data["seed"])
    )
    return X_tr, X_va, y_tr, y_va


def _max_depth(model: Mapping[str, Any]) -> int | None:
    """YAML null (or 0) means unlimited depth, as in scikit-learn."""
    depth = model.get("max_depth")
    return int(depth) if depth else None


def build_model(model: Mapping[str, Any], seed: int) -> ClassifierMixin:
    """Instantiate the classifier named by ``model.type``."""
    kind = model["type"]
    if kind == "gbt":
        return HistGradientBoostingClassifier(
            max_iter=int(model["n_estimators"]),
            max_depth=_max_depth(model),
            learning_rate=float(model["learning_rate"]),
            early_stopping=False,  # the whole curve is logged; stopping is a reader's call
            random_state=seed,
        )
    if kind == "rf":
        return RandomForestClassifier(
            n_estimators=int(model["n_estimators"]),
            max_depth=_max_depth(model),
            n_jobs=-1,
            random_state=seed,
        )
    if kind == "logreg":
        # Features span ~5 orders of magnitude in scale (lg E vs Xmax), so scale first.
        return make_pipeline(
            StandardScaler(), LogisticRegression(C=float(model["C"]), max_iter=1000)
        )
    raise ValueError(f"unknown model.type {kind!r}; expected gbt, rf or logreg")


def _scores(y: np.ndarray, proba: np.ndarray, prefix: str = "") -> dict[str, float]:
    """Accuracy and log-loss from iron probabilities, for curves and final metrics alike.

    Plain numpy rather than sklearn.metrics: the gbt curve scores hundreds of
    stages, and sklearn's per-call input validation would dominate the run time.
    The clip matches sklearn's log_loss for float64 inputs.
    """
    p = np.clip(proba, PROBA_EPS, 1.0 - PROBA_EPS)
    logloss = -np.mean(np.where(y == 1, np.log(p), np.log1p(-p)))
    return {
        f"{prefix}acc": float(np.mean((proba >= 0.5) == (y == 1))),
        f"{prefix}logloss": float(logloss),
    }


def _gbt_curve(model: HistGradientBoostingClassifier, split: Split) -> Curve:
    """Score every boosting iteration; staged prediction reuses the fitted trees, so it's cheap.

    The train log-loss rides along so overfitting (train falling, val rising) shows in one plot.
    """
    X_tr, X_va, y_tr, y_va = split
    model.fit(X_tr, y_tr)
    stages = zip(model.staged_predict_proba(X_tr), model.staged_predict_proba(X_va), strict=True)
    for step, (p_tr, p_va) in enumerate(stages, start=1):
        train_logloss = _scores(y_tr, p_tr[:, 1])["logloss"]
        yield step, {"train.logloss": train_logloss, **_scores(y_va, p_va[:, 1], "val.")}


def _rf_curve(model: RandomForestClassifier, split: Split) -> Curve:
    """Grow the forest in a few chunks with warm_start, scoring after each one."""
    X_tr, X_va, y_tr, y_va = split
    total = int(model.n_estimators)
    sizes = sorted(
        {max(1, round(total * (i + 1) / RF_CURVE_POINTS)) for i in range(RF_CURVE_POINTS)}
    )
    model.set_params(warm_start=True)
    for size in sizes:
        model.set_params(n_estimators=size).fit(X_tr, y_tr)
        yield size, _scores(y_va, model.predict_proba(X_va)[:, 1], "val.")
    model.set_params(warm_start=False)


def fit_logging_curve(model: ClassifierMixin, split: Split) -> tuple[int | None, set[str]]:
    """Fit the model, logging a step-wise validation curve where that comes cheap.

    Returns the curve's last step (None without a curve) and the names logged
    there, so the final metrics can join the curve at its end instead of a
    step-less value continuing the series one step past the end of training.
    """
    if isinstance(model, HistGradientBoostingClassifier):
        curve = _gbt_curve(model, split)
    elif isinstance(model, RandomForestClassifier):
        curve = _rf_curve(model, split)
    else:
        assert isinstance(model, Pipeline)
        model.fit(split[0], split[2])  # one convex solve: no meaningful curve to log
        return None, set()
    last_step: int | None = None
    logged: dict[str, float] = {}
    for last_step, logged in curve:
        gitexp.log_metrics(logged, step=last_step)
    return last_step, set(logged)


def evaluate(model: ClassifierMixin, split: Split) -> dict[str, dict[str, float]]:
    """Final metrics, nested the way metrics.json stores them."""
    X_tr, X_va, y_tr, y_va = split
    p_va = model.predict_proba(X_va)[:, 1]
    p_tr = model.predict_proba(X_tr)[:, 1]
    val = {**_scores(y_va, p_va), "auc": float(roc_auc_score(y_va, p_va))}
    return {"val": val, "train": _scores(y_tr, p_tr)}


def flatten(metrics: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """{"val": {"acc": x}} -> {"val.acc": x}, the dotted names gitexp logs and sorts by."""
    return {f"{group}.{name}": v for group, values in metrics.items() for name, v in values.items()}


def main() -> None:
    """Simulate, train, score, and leave metrics.json and model.pkl for gitexp to record."""
    start = time.perf_counter()
    params = load_params()
    seed = gitexp.seed_everything()
    split = make_split(params["data"])
    model = build_model(params["model"], seed)
    last_step, on_curve = fit_logging_curve(model, split)
    metrics = evaluate(model, split)
    final = {name: v for name, v in flatten(metrics).items() if name not in on_curve}
    gitexp.log_metrics(final, step=last_step)

    METRICS_PATH.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    with MODEL_PATH.open("wb") as fh:
        pickle.dump(model, fh)

    val, train = metrics["val"], metrics["train"]
    print(
        f"{params['model']['type']}: val acc={val['acc']:.3f} auc={val['auc']:.3f} "
        f"logloss={val['logloss']:.3f} | train acc={train['acc']:.3f} | "
        f"{len(split[0])}+{len(split[1])} showers, seed={seed}, "
        f"{time.perf_counter() - start:.1f}s"
    )


if __name__ == "__main__":
    main()
