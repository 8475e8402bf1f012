"""The sweep's loop: ask Optuna, run trials in worker threads, tell Optuna.

One process (this one, holding the sweep's lock) owns the study and every
git write; trial processes only train. Up to ``jobs`` trials run at once,
each an experiment run from its own thread. The budget is counted here, not
by Optuna (whose ``MaxTrialsCallback`` overshoots by the number of workers):
a trial that failed or was pruned counts, an interrupted one does not.

Ctrl-C (or SIGTERM), handled by the main thread: the first stops every running
trial through its ``RunControl`` (recorded `interrupted`), starts no new one,
and tells Optuna, so the study stays consistent and ``--resume`` runs the
interrupted trials again; a second one aborts at once (the running trials
are told to Optuna as interrupted; their records are cut short).

A mistake every trial would repeat stops the sweep the same graceful way and
is raised when the running trials are recorded: a ``UsageError`` from a
trial, or a first trial that ran to the end without logging an objective
(a misspelled ``--objective``; see objectives.py).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from gitexp.running.signals import graceful_then_abort
from gitexp.sweeps import best as bests
from gitexp.sweeps import study as studies
from gitexp.sweeps.objectives import ObjectiveNotLoggedError, logged
from gitexp.sweeps.pruning import Pruning, backfill
from gitexp.sweeps.trial import Outcome, Setup, TrialRun, execute, history, payload, trial_name

log = logging.getLogger(__name__)
POLL_S = 0.25
INTERRUPTED = "the sweep was interrupted (Ctrl-C)"


@dataclass(frozen=True)
class Budget:
    trials: int | None = None  # trials to count in this invocation
    timeout: float | None = None
    grid_left: int | None = None

    @property
    def limit(self) -> int | None:
        known = [n for n in (self.trials, self.grid_left) if n is not None]
        return min(known) if known else None


@dataclass
class Tally:
    succeeded: int = 0
    failed: int = 0
    pruned: int = 0
    interrupted: int = 0
    running: int = 0

    @property
    def counted(self) -> int:
        return self.succeeded + self.failed + self.pruned


class Driver:
    def __init__(
        self, setup: Setup, study: Any, budget: Budget, note: Callable[[str], None]
    ) -> None:
        self.setup, self.study, self.budget, self.note = setup, study, budget, note
        self.spec = setup.spec
        self.tally = Tally()
        self.best = bests.recorded(study, self.spec)  # a resumed sweep's earlier trials count
        self.running: dict[int, TrialRun] = {}
        self.results: queue.Queue[Outcome] = queue.Queue()
        self.stopping: str | None = None  # why no new trial starts
        self.fatal: BaseException | None = None
        self.started_at = time.monotonic()
        self.pruning = self._pruning()
        self._distributions = _distributions(self.spec)

    def _pruning(self) -> Pruning | None:
        if self.spec.pruner.name == "none":
            return None
        pruning = Pruning(self.spec.objectives[0].metric, self.spec.pruner.name)
        self.setup.bus.subscribe(pruning, ["metric_logged"], label="sweep pruning")
        return pruning

    def run(self) -> str:
        """Drive the sweep to its end; returns why it ended."""
        with self._signals():
            try:
                self._loop()
            except KeyboardInterrupt:
                self._abort()
                raise
        if self.fatal is not None:
            raise self.fatal
        return self.stopping or "completed"

    def _loop(self) -> None:
        while True:
            while self._may_start():
                self._start()
            if not self.running:
                return
            try:
                outcome = self.results.get(timeout=POLL_S)
            except queue.Empty:
                continue
            self._finish(outcome)

    def _may_start(self) -> bool:
        if self.stopping is not None or len(self.running) >= self.spec.jobs:
            return False
        limit = self.budget.limit
        if limit is not None and self.tally.counted + len(self.running) >= limit:
            if not self.running:
                self.stopping = "exhausted" if limit == self.budget.grid_left else "completed"
            return False
        timeout = self.budget.timeout
        if timeout is not None and time.monotonic() - self.started_at >= timeout:
            self.stopping = "timeout"
            return False
        return True

    def _start(self) -> None:
        trial = self.study.ask(self._distributions)
        name = trial_name(self.spec.name, trial.number)
        trial.set_user_attr(studies.NAME_ATTR, name)
        run = TrialRun(trial.number, name, trial, dict(trial.params))
        self.running[run.number] = run
        self.tally.running = len(self.running)
        if self.pruning is not None:
            self.pruning.follow(run)
        thread = threading.Thread(
            target=lambda: self.results.put(execute(self.setup, run)),
            name=f"gitexp-{name}",
            daemon=True,  # a second Ctrl-C must not wait for it
        )
        thread.start()

    def _finish(self, outcome: Outcome) -> None:
        run = outcome.run
        if self.pruning is not None:
            self.pruning.forget(run)
        self.running.pop(run.number, None)
        if outcome.invalid:
            self.note(f"{run.name} not run: {outcome.reason}")
        if outcome.error is not None:
            self._stop(outcome.error, outcome.reason)
        self._check_objective(outcome)
        self._report_series(outcome)
        self._tell(outcome)
        setattr(self.tally, outcome.status, getattr(self.tally, outcome.status) + 1)
        self.tally.running = len(self.running)
        self.setup.bus.publish("trial_finished", {**payload(outcome), "sweep": self.spec.name})
        self._check_best(outcome)

    def _stop(self, error: BaseException, reason: str) -> None:
        """A mistake every trial would repeat: no new trial, the running ones stopped."""
        if self.fatal is not None:
            return
        self.fatal = error
        self.interrupt("failed", f"the sweep stopped: {reason}")
        if self.running:
            self.note(f"stopping: {len(self.running)} running trial(s) recorded as interrupted")

    def _check_objective(self, outcome: Outcome) -> None:
        """A trial that never logged an objective, before any trial of the sweep
        did: a misspelled objective, which every later trial would repeat."""
        if outcome.unlogged is None or outcome.result is None or studies.scored(self.study):
            return
        name, metric = outcome.run.name, outcome.unlogged
        found = logged(outcome.result.metrics)
        error = ObjectiveNotLoggedError(self.spec.name, name, metric, found)
        self._stop(error, f"objective metric {metric!r} was not logged by {name}")

    def _report_series(self, outcome: Outcome) -> None:
        """The whole recorded curve of a finished trial, for later pruning decisions."""
        if self.pruning is None or outcome.commit is None:
            return
        if outcome.status not in ("succeeded", "pruned"):
            return
        series = history(self.setup, outcome.commit, self.spec.objectives[0].metric)
        backfill(outcome.run, series)

    def _tell(self, outcome: Outcome) -> None:
        from optuna.trial import TrialState

        trial = outcome.run.trial
        if outcome.status not in ("succeeded", "pruned"):  # Optuna's FAIL says less
            trial.set_user_attr(studies.STATUS_ATTR, outcome.status)
        if outcome.reason:
            trial.set_user_attr(studies.REASON_ATTR, outcome.reason[:500])
        if outcome.status == "succeeded":
            self.study.tell(trial, outcome.values)
        elif outcome.status == "pruned":
            self.study.tell(trial, state=TrialState.PRUNED)
        else:
            self.study.tell(trial, state=TrialState.FAIL)

    def _check_best(self, outcome: Outcome) -> None:
        if outcome.status != "succeeded" or outcome.values is None:
            return
        if len(self.spec.objectives) > 1:
            front = sorted(studies.front_names(self.study))
            if outcome.run.name not in front:
                return
            self.best.front = front
        elif not self.best.beaten_by(
            outcome.values[0], outcome.run.number, self.spec.objectives[0].direction
        ):
            return
        self.best.values, self.best.name = outcome.values, outcome.run.name
        self.best.number = outcome.run.number
        self.setup.bus.publish("sweep_new_best", self._best_payload(outcome))

    def _best_payload(self, outcome: Outcome) -> dict[str, Any]:
        data = payload(outcome)
        return {
            "name": self.spec.name,
            "ref": f"refs/experiments/{self.spec.name}/",
            "sweep": self.spec.name,
            "trial": data["trial"],
            "trial_name": data["name"],
            "values": data["values"],
            "objectives": [o.text for o in self.spec.objectives],
            "params": data["params"],
            "front": list(self.best.front),
        }

    def interrupt(self, why: str = "interrupted", reason: str = INTERRUPTED) -> None:
        """Start no new trial and stop the running ones (recorded `interrupted`)."""
        self.stopping = why
        for run in list(self.running.values()):
            run.control.stop("interrupted", reason)

    def _abort(self) -> None:
        """A second Ctrl-C: tell Optuna the running trials were interrupted, now."""
        from optuna.trial import TrialState

        for run in list(self.running.values()):
            try:
                run.trial.set_user_attr(studies.STATUS_ATTR, "interrupted")
                self.study.tell(run.trial, state=TrialState.FAIL)
            except Exception as exc:  # the study is recovered on --resume anyway
                log.debug("could not tell %s: %s", run.name, exc)
        self.tally.interrupted += len(self.running)
        self.running.clear()

    def _signals(self) -> AbstractContextManager[None]:
        """Ctrl-C and SIGTERM: stop gracefully, then abort (main thread only)."""

        def first() -> None:
            self.interrupt()
            self.note(
                f"stopping: {len(self.running)} running trial(s) are being recorded as "
                "interrupted; press Ctrl-C again to abort"
            )

        return graceful_then_abort(first)


def _distributions(spec: Any) -> dict[str, Any]:
    from gitexp.sweeps.space import distribution

    return {key: distribution(space) for key, space in spec.searched.items()}
