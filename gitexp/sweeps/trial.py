"""One trial: an experiment run with sampled params, and the verdict Optuna is told.

Runs in a worker thread of the driver (``runner.run_experiment`` is safe
there). The trial is the experiment ``SWEEP/trial-NNNN`` (NNNN is Optuna's
trial number), its params set through the typed path (a sampled ``"on"``
reaches the script as the string ``on``), its run.json carrying ``sweep``,
``trial`` and ``sweep_objectives``. A trial that succeeded but never logged
an objective metric (or logged a non-finite one) is recorded `failed`
with that reason; its ``Outcome.unlogged`` names a metric never logged, for
the driver to stop a sweep whose objective is misspelled (objectives.py).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

from gitexp.common.errors import GitexpError, UsageError, describe_exit
from gitexp.config.settings import Config
from gitexp.events.bus import EventBus
from gitexp.gitstore.repo import Repo
from gitexp.running.control import RunControl
from gitexp.running.runner import RunRequest, RunResult, run_experiment
from gitexp.running.schema import ParamsSchemaError
from gitexp.sweeps import objectives
from gitexp.sweeps.spec import SweepSpec


def trial_name(sweep: str, number: int) -> str:
    return f"{sweep}/trial-{number:04d}"


@dataclass
class TrialRun:
    """A trial in flight: its Optuna trial, its stop button, what was sampled."""

    number: int
    name: str
    trial: Any
    params: dict[str, Any]
    control: RunControl = field(default_factory=RunControl)
    started: float = field(default_factory=time.monotonic)
    reported: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class Outcome:
    run: TrialRun
    status: str  # succeeded, failed, pruned, interrupted
    values: list[float] | None = None
    reason: str = ""
    result: RunResult | None = None
    error: BaseException | None = None  # a mistake every trial would make: stop the sweep
    invalid: bool = False  # its params broke the params schema: reported, never run
    unlogged: str | None = None  # the command succeeded, this objective was never logged

    @property
    def commit(self) -> str | None:
        return self.result.commit if self.result else None


@dataclass(frozen=True)
class Setup:
    """What every trial of one sweep shares."""

    repo: Repo
    config: Config
    spec: SweepSpec
    tree: str
    bus: EventBus
    #: the --from spec every trial runs with: the sweep's origin, loaded once and
    #: held (launch.py, running/origin.py); None: the spec's own, read per trial
    origin: str | None = None

    @property
    def env(self) -> dict[str, str]:
        """MLflow recorded into the trial; gitexp.yaml's zero-code mode (local runs)."""
        from gitexp.integrations import zerocode

        local = self.config.executor == "local"
        return zerocode.command_env(self.config.zero_code if local else zerocode.ZeroCode())

    def missing_objective(self, metrics: dict[str, Any]) -> str | None:
        return objectives.problem(self.spec, metrics)

    def request(self, run: TrialRun) -> RunRequest:
        fixed = self.spec.fixed
        return RunRequest(
            command=self.spec.command,
            tree=self.tree,
            overrides=tuple(f"{k}={s.text}" for k, s in fixed.items() if not s.choices),
            values={**{k: s.choices[0] for k, s in fixed.items() if s.choices}, **run.params},
            name=run.name,
            seed=self.spec.seed,
            control=run.control,
            verdict=self.missing_objective,
            env=self.env,
            echo=False,
            from_experiment=self.origin or self.spec.origin,
            extra={
                "sweep": self.spec.name,
                "trial": run.number,
                "sweep_objectives": [o.text for o in self.spec.objectives],
            },
        )


def execute(setup: Setup, run: TrialRun) -> Outcome:
    """Run the trial and judge it; never raises (the driver gets an Outcome)."""
    try:
        result = run_experiment(setup.repo, setup.config, setup.request(run), bus=setup.bus)
    except ParamsSchemaError as exc:  # this sample only: told to Optuna as failed
        return Outcome(run, "failed", reason=str(exc), invalid=True)
    except UsageError as exc:
        return Outcome(run, "failed", reason=str(exc), error=exc)
    except GitexpError as exc:  # an executor error: recorded failed, then raised
        return Outcome(run, "failed", reason=str(exc))
    except Exception as exc:
        return Outcome(run, "failed", reason=f"{type(exc).__name__}: {exc}", error=exc)
    return judge(setup, run, result)


def judge(setup: Setup, run: TrialRun, result: RunResult) -> Outcome:
    """The trial's status and objective values, from the recorded run (a missing
    objective was already recorded as `failed`: the request's verdict)."""
    if result.status != "succeeded":
        extra = result.record.extra
        reason = str(extra.get("stop_reason") or extra.get("error") or "")
        reason = reason or describe_exit(result.exit_code, result.status)
        unlogged = _unlogged(setup, result)
        return Outcome(run, result.status, reason=reason, result=result, unlogged=unlogged)
    values = objectives.values(setup.spec, result.metrics)
    return Outcome(run, "succeeded", values=values, result=result)


def _unlogged(setup: Setup, result: RunResult) -> str | None:
    """The objective a run never logged, when that alone failed it (the verdict):
    its command exited 0 and nothing else went wrong."""
    if result.status != "failed" or result.exit_code != 0:
        return None
    if result.record.extra.get("error") != setup.missing_objective(result.metrics):
        return None
    return objectives.unlogged(setup.spec, result.metrics)


def history(setup: Setup, commit: str, metric: str) -> list[tuple[int, float]]:
    """The recorded (step, value) series of ``metric`` (integer steps only)."""
    from gitexp.exploring.histories import points, series_blobs

    repo = setup.repo.reopen()
    blob = series_blobs(repo, commit).get(metric)
    if blob is None:
        return []
    out = []
    for step, value, _ in points(repo, blob):
        if float(step).is_integer() and math.isfinite(value):
            out.append((int(step), value))
    return out


def payload(outcome: Outcome) -> dict[str, Any]:
    """The ``trial_finished`` event's payload (see gitexp/events/bus.py)."""
    run = outcome.run
    return {
        "name": run.name,
        "ref": "refs/experiments/" + run.name,
        "trial": run.number,
        "status": outcome.status,
        "values": outcome.values,
        "params": json.loads(json.dumps(run.params, default=str)),
        "reason": outcome.reason,
        "commit": outcome.commit,
        "duration_s": round(time.monotonic() - run.started, 3),
    }
