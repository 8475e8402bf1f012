"""Signals during a run: who handles Ctrl-C and SIGTERM at each stage.

Only the main thread can handle signals; runs started from worker threads
of a driver (a sweep) leave them to the driver, which stops its runs.

- while the command runs (``forwarding``): a signal stops the job through
  its executor instead of gitexp, so the run is still recorded;
- once the command has ended (``finishing``): the first Ctrl-C says the
  record is being finished, a second one aborts it (a partial record);
- while the crash record is written (``ignoring_interrupts``): nothing stops it.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from gitexp.running.executors import Executor

log = logging.getLogger(__name__)


@contextmanager
def forwarding(executor: Executor, flag: threading.Event) -> Iterator[None]:
    """Ctrl-C / SIGTERM stop the job instead of gitexp, so the run is still recorded."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        if executor.command_running():
            flag.set()
        executor.stop(signum)

    with _handling(handler):
        yield


@contextmanager
def finishing(name: str) -> Iterator[None]:
    """While recording: the first Ctrl-C (or SIGTERM) says the record is being
    finished; a second one aborts it (KeyboardInterrupt: a partial record)."""

    def first() -> None:
        log.warning(
            "gitexp: finishing the record of %s (its command has ended); "
            "press Ctrl-C again to abort with a partial record",
            name,
        )

    with graceful_then_abort(first):
        yield


@contextmanager
def graceful_then_abort(first: Callable[[], None]) -> Iterator[None]:
    """The first Ctrl-C or SIGTERM calls ``first`` (stop gracefully, say so); a
    second raises KeyboardInterrupt. Main thread only: elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed: list[int] = []

    def handler(signum: int, frame: object) -> None:
        pressed.append(signum)
        if len(pressed) > 1:
            raise KeyboardInterrupt
        first()

    with _handling(handler):
        yield


@contextmanager
def _handling(handler: Callable[[int, object], None]) -> Iterator[None]:
    """``handler`` for Ctrl-C and SIGTERM, the previous handlers back afterwards."""
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def ignoring_interrupts() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
