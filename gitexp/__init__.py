"""gitexp: every run of an experiment is a git commit.

This module is what training code imports. It stays light: no pygit2, dvc,
optuna, docker, numpy or pandas at import time (checked by a test); the
notebook functions (experiments, history, load) import the read model when
first called.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gitexp.tracking.recorder import (
    RunInfo,
    current_run,
    log_artifact,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    params,
)
from gitexp.tracking.seeding import seed_everything

if TYPE_CHECKING:
    from pathlib import Path

    from gitexp.exploring.notebook import ExperimentList, LoadedExperiment
    from gitexp.inprocess.runs import Run

__version__ = "0.1.0"

__all__ = [
    "RunInfo",
    "autolog",
    "current_run",
    "experiments",
    "history",
    "load",
    "log_artifact",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "model_path",
    "params",
    "seed_everything",
    "start_run",
]


def autolog(
    frameworks: Sequence[str] | None = None, log_models: bool = True, disable: bool = False
) -> list[str]:
    """Record params, per-iteration metrics and models of scikit-learn, XGBoost and
    LightGBM (``frameworks`` to choose) without more code; ``disable=True`` undoes it.

    Installed frameworks are hooked when the script imports them, never imported
    for it; returns the integrations enabled or waiting for their import.
    docs/autolog.md says what each records.
    """
    from gitexp.integrations.autolog import autolog as _autolog

    return _autolog(frameworks, log_models=log_models, disable=disable)


def experiments(
    filter: str | Sequence[str] | None = None,  # the word `gitexp show --filter` uses
    *,
    sort_by: str | None = None,
    descending: bool | None = None,
    limit: int | None = None,
    baseline: str | None = None,
    repo: str | os.PathLike[str] | None = None,
) -> ExperimentList:
    """The experiments `gitexp show` lists, as records (``.to_pandas()`` for a DataFrame).

    ``filter``: one ``KEY OP VALUE`` or a list of them (all must hold);
    ``sort_by`` a column (ascending unless ``descending``); newest first without;
    ``baseline`` a git revision; ``repo`` a path inside another repository.
    """
    from gitexp.exploring.notebook import experiments as _experiments

    return _experiments(
        filter,
        sort_by=sort_by,
        descending=descending,
        limit=limit,
        baseline=baseline,
        repo=repo,
    )


def history(
    name: str,
    metric: str | None = None,
    *,
    max_points: int | None = None,
    repo: str | os.PathLike[str] | None = None,
) -> Any:
    """A metric's step series as a pandas DataFrame (step, value, time); without
    ``metric``, every series of the experiment in one frame with a metric column;
    ``max_points``: at most that many points a series, downsampled keeping the shape."""
    from gitexp.exploring.notebook import history as _history

    return _history(name, metric, max_points=max_points, repo=repo)


def load(name: str, *, repo: str | os.PathLike[str] | None = None) -> LoadedExperiment:
    """One experiment in full: run record, params, metrics, files (``.read(path)``)."""
    from gitexp.exploring.notebook import load as _load

    return _load(name, repo=repo)


def model_path(
    name: str,
    stage: str = "prod",
    version: str | None = None,
    *,
    repo: str | os.PathLike[str] | None = None,
) -> Path:
    """A local, checksum-verified copy of a registered model: the version in ``stage``,
    or ``version`` when given (it wins). Fetched from the DVC remote or the git tree
    once, then kept under .git/gitexp/models/ (treat it as read-only)."""
    from gitexp.gitstore.repo import open_repo
    from gitexp.registry.fetching import model_path as _model_path

    return _model_path(open_repo(repo or "."), name, stage, version)


def start_run(
    name: str | None = None, params: Mapping[str, Any] | None = None, seed: int | None = None
) -> Run:
    """Record an experiment from this process: a notebook, or a script no CLI started.

    ``with gitexp.start_run(params={"lr": 0.1}):`` (or ``run = gitexp.start_run()``
    ... ``run.end()``) snapshots the work tree, reserves the name (shown
    `running`), and at the end commits one experiment as `gitexp run` does:
    params (given here, in params files, or logged), seed, metrics, artifacts,
    environment; `failed` if the block raised, `interrupted` on Ctrl-C. The code
    runs in this process and directory, not isolated; inside `gitexp run` this
    joins that run. docs/notebooks.md.
    """
    from gitexp.inprocess.runs import start_run as _start_run

    return _start_run(name, params, seed)
