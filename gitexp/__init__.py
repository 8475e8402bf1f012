"""gitexp: every run of an experiment is a git commit.

This module is what training code imports. It stays light: no pygit2, dvc,
optuna, docker or numpy at import time (checked by a test).
"""

from __future__ import annotations

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

__version__ = "0.1.0"

__all__ = [
    "RunInfo",
    "current_run",
    "log_artifact",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "params",
    "seed_everything",
]
