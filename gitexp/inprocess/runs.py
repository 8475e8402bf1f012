"""``gitexp.start_run()``: the handle of an in-process run, and the one-at-a-time rule.

A process has at most one in-process run at a time (the tracking library has
one destination); starting a second while the first is active is an error.
Inside `gitexp run` (or a sweep trial, a notebook run) there is already a
run: ``start_run`` joins it instead of starting another, so the same code
records once whether or not the CLI started it. A run still active when the
interpreter exits is ended then: `failed` after an uncaught exception,
`interrupted` after Ctrl-C or when a kernel shuts down, else `succeeded`.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from gitexp.common.errors import UsageError
from gitexp.common.layout import MAX_SEED

if TYPE_CHECKING:
    from gitexp.inprocess.lifecycle import Active

log = logging.getLogger(__name__)
END_STATUSES = ("succeeded", "failed", "interrupted")

_lock = threading.RLock()
_current: Run | None = None
_exit_hook = False


class Run:
    """An experiment recorded from this process: ``with gitexp.start_run() as run:``, or
    ``run = gitexp.start_run()`` ... ``run.end()``. After the end: ``status``,
    ``commit`` and ``metrics``. ``joined``: it is the `gitexp run` this process runs in,
    which records it (``end`` then does nothing)."""

    def __init__(
        self, name: str, seed: int | None, params: dict[str, Any], active: Active | None
    ) -> None:
        self.name = name
        self.seed = seed
        self.params = params
        self.status = "running"
        self.commit: str | None = None
        self.metrics: dict[str, Any] = {}
        self.warnings: list[str] = []  # what recording warned about, as `gitexp run` says it
        self._active = active
        self.joined = active is None

    def end(self, status: str = "succeeded") -> Run:
        """Record the run as ``status`` (succeeded, failed or interrupted); once only."""
        if status not in END_STATUSES:
            raise UsageError(
                f"cannot end a run as {status!r}", f"use one of: {', '.join(END_STATUSES)}"
            )
        if self.joined:
            return self
        if self.status != "running":
            raise UsageError(f"run {self.name!r} has already ended ({self.status})")
        self._finish(status, None)
        return self

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.joined and self.status == "running":
            self._finish(*outcome(exc))

    def __repr__(self) -> str:
        return f"<gitexp.Run {self.name} {self.status}>"

    def _finish(self, status: str, error: str | None) -> None:
        from gitexp.inprocess.lifecycle import finish

        global _current
        active, self._active = self._active, None
        assert active is not None
        self.status = status
        try:
            done = finish(active, status, error)
        except BaseException:
            self.status = "failed" if status == "succeeded" else status
            raise
        finally:
            self._active = None
            with _lock:
                if _current is self:
                    _current = None
        self.commit, self.status, self.metrics = str(done.commit), done.record.status, done.metrics
        self.warnings = [_in_python(warning) for warning in done.warnings]
        for warning in self.warnings:  # a large artifact committed to git, …
            print(f"gitexp: warning: {warning}", file=sys.stderr)


def start_run(
    name: str | None = None, params: Mapping[str, Any] | None = None, seed: int | None = None
) -> Run:
    """Start recording an experiment from this process (see gitexp.start_run)."""
    global _current
    given = _checked(params, seed)
    with _lock:
        if _current is not None:
            raise UsageError(
                f"an in-process run is already active in this process: {_current.name!r}",
                "end it first: run.end(), or leave its `with` block",
            )
        if os.environ.get("GITEXP_RUN_DIR"):
            return _joined(given)

        active = _begun(name, given, seed)
        record = active.state.partial.record
        _current = Run(record.name, record.seed, dict(record.params), active)
        _at_exit()
        return _current


def _begun(name: str | None, given: dict[str, Any], seed: int | None) -> Active:
    """``lifecycle.begin``; a taken name is told in Python's words, not the CLI's."""
    from gitexp.common.errors import ExperimentNameError
    from gitexp.inprocess.lifecycle import begin

    try:
        return begin(name, given, seed)
    except ExperimentNameError as exc:
        if name is None or "is taken" not in exc.message:
            raise
        raise ExperimentNameError(
            exc.message,
            "pass another name=, or name=None for a generated one, "
            f"or remove it first: gitexp remove {name}",
        ) from None


def _in_python(warning: str) -> str:
    """Recording's warnings as fit a run started from Python (no gitexp.yaml advice)."""
    from gitexp.running.metrics import NO_METRICS, NO_METRICS_IN_PROCESS

    return NO_METRICS_IN_PROCESS if warning.startswith(NO_METRICS) else warning


def outcome(exc: BaseException | None) -> tuple[str, str | None]:
    """How a block (or a script) ended, as a run status and run.json's ``error``."""
    if exc is None:
        return "succeeded", None
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", "interrupted by Ctrl-C"
    if isinstance(exc, SystemExit) and exc.code in (None, 0):
        return "succeeded", None
    return "failed", f"{type(exc).__name__}: {exc}"


def _checked(params: Mapping[str, Any] | None, seed: int | None) -> dict[str, Any]:
    if params is not None and not isinstance(params, Mapping):
        raise UsageError(f"params must be a mapping, got {type(params).__name__}")
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED
    ):
        raise UsageError(f"seed must be an integer from 0 to {MAX_SEED}, got {seed!r}")
    return {str(k): v for k, v in (params or {}).items()}


def _joined(given: dict[str, Any]) -> Run:
    """The `gitexp run` this process runs in; params given here are its defaults, under
    the CLI's params files and `-p` (gitexp/inprocess/joining.py)."""
    from gitexp.inprocess.joining import join
    from gitexp.tracking.recorder import current_run

    merged = join(given)
    info = current_run()
    return Run(info.name if info else "", info.seed if info else None, merged, None)


def _at_exit() -> None:
    global _exit_hook
    if not _exit_hook:
        atexit.register(_end_at_exit)
        _exit_hook = True


def _end_at_exit() -> None:
    """The interpreter is exiting with a run still active: record how it ended."""
    run = _current
    if run is None or run._active is None:
        return
    status: str
    error: str | None
    if run._active.origin.kind == "notebook":
        status, error = "interrupted", "the kernel shut down before run.end()"
    else:  # an uncaught exception ended the script: Python keeps it in sys.last_*
        status, error = outcome(getattr(sys, "last_exc", None) or getattr(sys, "last_value", None))
    try:
        run._finish(status, error)
    except Exception as exc:  # nothing may escape an atexit callback
        log.warning("gitexp: warning: could not record %s at exit: %s", run.name, exc)
