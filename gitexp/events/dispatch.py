"""Deliveries off the run's critical path: notifications and shell hooks.

Contract: :meth:`Dispatcher.submit` returns at once. Each target (a
notification entry, a hook command) has its own queue and daemon worker,
started with its first delivery, so a target's deliveries keep their
order and a slow one holds up only itself. A delivery gets ``limit``
seconds (it is given the limit and should keep it; past it plus a grace
second it is abandoned). A delivery that raises or overruns is reported as
one warning line and never reaches the publisher. At process exit the
deliveries still queued get a bounded wait, the longest limit among them;
what is left then is dropped with one line, and the ``on_exit`` cleanups
run (a hook's process is killed). Nothing here runs, and no thread starts,
until something is submitted.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

GRACE_S = 1.0
Job = Callable[[float], None]  # called with its time limit


class DeliveryTimeout(Exception):
    """A delivery took longer than its limit."""


@dataclass(frozen=True)
class Delivery:
    label: str  # "notify #1 (json)", "hook `./announce.sh`": safe to print
    event: str
    job: Job
    limit: float


@dataclass
class _Lane:
    jobs: queue.Queue[Delivery] = field(default_factory=queue.Queue)
    thread: threading.Thread | None = None


class Dispatcher:
    """One per process (:func:`shared`); see the module doc."""

    def __init__(self) -> None:
        self._lanes: dict[str, _Lane] = {}
        self._lock = threading.Condition()
        self._pending: dict[str, float] = {}  # id of a queued delivery → its limit
        self._closed = False
        self._cleanups: list[Callable[[], None]] = []
        self._exit_hooked = False

    def submit(self, key: str, delivery: Delivery) -> None:
        """Queue ``delivery`` on the lane ``key`` (a worker starts on first use)."""
        with self._lock:
            if self._closed:
                return
            self._pending[_token(delivery)] = delivery.limit
            lane = self._lanes.setdefault(key, _Lane())
            lane.jobs.put(delivery)
            if lane.thread is None:
                self._start(key, lane)

    def on_exit(self, cleanup: Callable[[], None]) -> None:
        """Run ``cleanup`` at exit, after the bounded wait (once per callable)."""
        with self._lock:
            if cleanup not in self._cleanups:
                self._cleanups.append(cleanup)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until nothing is queued or running (at most ``timeout`` seconds,
        by default the longest limit queued); whether everything was delivered."""
        with self._lock:
            if timeout is None:
                timeout = max(self._pending.values(), default=0.0) + GRACE_S
            return self._lock.wait_for(lambda: not self._pending, timeout)

    def _start(self, key: str, lane: _Lane) -> None:
        lane.thread = threading.Thread(
            target=self._work, args=(lane,), name=f"gitexp-deliver-{key}", daemon=True
        )
        lane.thread.start()
        if not self._exit_hooked:
            self._exit_hooked = True
            atexit.register(self._at_exit)

    def _work(self, lane: _Lane) -> None:
        while True:
            delivery = lane.jobs.get()
            with self._lock:
                if self._closed:
                    continue
            try:
                run_limited(delivery.job, delivery.limit)
            except BaseException as exc:  # even SystemExit: the lane lives on
                report(delivery, exc)
            finally:
                with self._lock:
                    self._pending.pop(_token(delivery), None)
                    self._lock.notify_all()

    def _at_exit(self) -> None:
        try:
            self.drain()
        except KeyboardInterrupt:  # a second Ctrl-C: stop waiting
            pass
        with self._lock:
            self._closed = True
            left = len(self._pending)
            cleanups = list(self._cleanups)
        if left:
            log.warning("gitexp: warning: %d notification(s) or hook(s) not done at exit", left)
        for cleanup in cleanups:
            cleanup()


def run_limited(job: Job, limit: float) -> None:
    """``job(limit)`` in a daemon thread; DeliveryTimeout past ``limit`` + grace."""
    errors: list[BaseException] = []

    def call() -> None:
        try:
            job(limit)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=call, name="gitexp-delivery", daemon=True)
    thread.start()
    thread.join(limit + GRACE_S)
    if thread.is_alive():
        raise DeliveryTimeout(f"no answer after {limit:g}s; gave up")
    if errors:
        raise errors[0]


def report(delivery: Delivery, exc: BaseException) -> None:
    """The one warning line of a failed delivery (its text scrubbed by the sender)."""
    log.warning("gitexp: warning: %s failed on %s: %s", delivery.label, delivery.event, exc)


def _token(delivery: Delivery) -> str:
    return str(id(delivery))


_SHARED: list[Dispatcher] = []
_SHARED_LOCK = threading.Lock()


def shared() -> Dispatcher:
    """The process's dispatcher (one exit wait for every bus)."""
    with _SHARED_LOCK:
        if not _SHARED:
            _SHARED.append(Dispatcher())
        return _SHARED[0]
