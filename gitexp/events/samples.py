"""Made-up payloads for `gitexp notify test --event E`: each event's fields, plausible values.

The experiment is called ``notify-test`` (a sweep ``notify-test-sweep``) so
nobody mistakes a test message for a real run.
"""

from __future__ import annotations

import socket
from typing import Any

from gitexp.events.bus import Payload

NAME = "notify-test"
SWEEP = "notify-test-sweep"
COMMIT = "0" * 40


def sample(event: str) -> Payload:
    """A payload for ``event`` with every documented field (gitexp/events/bus.py)."""
    base: Payload = {"name": NAME, "ref": f"refs/experiments/{NAME}"}
    return {**base, **_FIELDS.get(event, {}), **_special(event)}


def _special(event: str) -> dict[str, Any]:
    if event.startswith("sweep_"):
        return {"name": SWEEP, "ref": f"refs/experiments/{SWEEP}/", "sweep": SWEEP}
    if event == "trial_finished":
        return {"name": f"{SWEEP}/trial-0003", "sweep": SWEEP}
    return {}


_RUN = {"host": socket.gethostname(), "executor": "local"}
_MODEL = {"model": "demo-model", "version": "v1.0.0", "tag": "demo-model@v1.0.0", "commit": COMMIT}
_FIELDS: dict[str, dict[str, Any]] = {
    "run_reserved": {
        **_RUN, "commit": COMMIT, "baseline": COMMIT, "params": {"lr": 0.01}, "seed": 42,
        "command": ["python", "train.py"], "pid": 12345,
    },
    "run_started": {"executor": "local"},
    "metric_logged": {"metric": "loss", "step": 10, "value": 0.25, "time": 0.0},
    "run_finished": {
        "status": "succeeded", "exit_code": 0, "duration_s": 187.0,
        "metrics": {"loss": 0.25, "val": {"acc": 0.91}}, "host": _RUN["host"],
    },
    "run_recorded": {"commit": COMMIT, "status": "succeeded"},
    "sweep_started": {
        "storage": "journal", "resumed": False, "sampler": "tpe", "pruner": None,
        "objectives": ["val.acc:max"], "space": {"lr": "log(1e-4, 1e-1)"}, "trials": 20,
        "timeout": None, "jobs": 2, "seed": 0, "previous_trials": 0,
    },
    "trial_finished": {
        "trial": 3, "status": "succeeded", "values": [0.91], "params": {"lr": 0.01},
        "reason": None, "commit": COMMIT, "duration_s": 42.0,
    },
    "sweep_new_best": {
        "trial": 3, "trial_name": f"{SWEEP}/trial-0003", "values": [0.91],
        "objectives": ["val.acc:max"], "params": {"lr": 0.01}, "front": [],
    },
    "sweep_finished": {
        "ended": "completed", "succeeded": 18, "failed": 1, "pruned": 1, "interrupted": 0,
        "best": f"{SWEEP}/trial-0003", "best_values": [0.91], "front": [], "duration_s": 3720.0,
    },
    "model_registered": {**_MODEL, "path": "model.pkl", "storage": "dvc", "checksum": "0" * 32,
                         "metrics": {"val.acc": 0.91}},
    "model_promoted": {**_MODEL, "stage": "prod", "previous": None},
    "model_demoted": {**_MODEL, "stage": "prod"},
    "model_deprecated": dict(_MODEL),
    "experiment_pushed": {"commit": COMMIT, "remote": "origin", "forced": False},
}  # fmt: skip
