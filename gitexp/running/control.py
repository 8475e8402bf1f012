"""Stopping one run from outside it: a sweep pruning a trial, a driver shutting down.

A driver creates a ``RunControl``, passes it in ``RunRequest.control`` and
may call ``stop(status, reason)`` from any thread at any time: before the
command starts (it then never starts), while it runs (its executor is asked
to stop, as on Ctrl-C) or after it ended (nothing left to stop). The run is
recorded with that ``status`` (``pruned``, ``interrupted``) and the
``reason`` in run.json as ``stop_reason``, whatever exit code the stopped
command returned.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gitexp.running.executors import Executor


class RunControl:
    """A thread-safe stop button for one run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executor: Executor | None = None
        self.status: str | None = None
        self.reason: str | None = None

    @property
    def stopped(self) -> bool:
        return self.status is not None

    def attach(self, executor: Executor) -> None:
        """The runner hands over the executor about to run the job."""
        with self._lock:
            self._executor = executor
            stop_now = self.stopped
        if stop_now:
            executor.stop()

    def stop(self, status: str = "interrupted", reason: str = "") -> None:
        with self._lock:
            if self.status is not None:
                return
            self.status, self.reason = status, reason
            executor = self._executor
        if executor is not None:
            executor.stop()
